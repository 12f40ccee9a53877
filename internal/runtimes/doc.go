// Package runtimes provides the Python and Node.js that an app's Lambda
// runtimes name (python3.12, nodejs22.x), for the checks that run the app's
// own tests, as package toolchain provides the Go toolchain a go.mod asks
// for.
//
// Where the host has no such tools (in Lambda), Resolve fetches them from
// the sources in one table (see sources): the CPython of the runtime from
// python-build-standalone's install_only builds, checked against the
// release's SHA256SUMS, and the newest Node.js of the runtime's major
// version from nodejs.org (/dist/index.json), checked against the
// SHASUMS256.txt beside it, each for the machine's architecture. An
// archive is unpacked by package archive, which refuses absolute paths,
// "..", links out of the tree and oversized archives, into a cache
// directory kept between warm starts; with Options.Store the verified
// archive is also kept in the artifact bucket, and later cold starts take
// it from there, checked again against the published checksum.
//
// Resolve also provides uv (Need{Language: UV}) for BuildMethod python-uv:
// its wheel for the architecture, found on PyPI's simple index and checked
// against the SHA-256 pinned in uvWheels (never only the index's), of which
// only the uv binary is unpacked; the wheel is kept in the bucket as the
// archives are.
//
// With Options.Host (stackflow local), the host's python3, node and uv are
// used instead, with a warning when their version is not the runtime's.
//
// Venv makes a Python virtual environment with pip for the checks: pip
// installs go there, never into the shared interpreter.
package runtimes
