// Package buildcheck holds tests that keep the build files in step: the
// libtensorflow pin lives in third_party/libtensorflow/versions.env and the
// Dockerfile's defaults must agree with it.
package buildcheck
