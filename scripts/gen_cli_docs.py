#!/usr/bin/env python3
"""Regenerate the --help blocks of docs/cli.md from bin/tlearn (make docs).

Each "## tlearn CMD" section's first ``` block is replaced by the output of
`bin/tlearn CMD --help`; the prose around the blocks is kept.
"""
import re
import subprocess
import sys

doc = "docs/cli.md"
binary = sys.argv[1] if len(sys.argv) > 1 else "bin/tlearn"
text = open(doc, encoding="utf-8").read()


def block(m):
    cmd = m.group(1).split()[1:]
    out = subprocess.run([binary, *cmd, "--help"], capture_output=True, text=True, check=True).stdout
    return f"## {m.group(1)}\n{m.group(2)}```\n{out.rstrip()}\n```"


text = re.sub(r"^## (tlearn[^\n]*)\n(.*?)```\n.*?\n```", block, text, flags=re.S | re.M)
open(doc, "w", encoding="utf-8").write(text)
