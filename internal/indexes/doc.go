// Package indexes gives pip, uv and npm the package indexes an app's
// dependencies come from, as `sam build` honours them from its environment:
// pip's index and extra indexes (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, also
// given to uv), a pip.conf at the repository's root (as PIP_CONFIG_FILE),
// npm's registry (NPM_CONFIG_REGISTRY), and an .npmrc in the repository,
// which npm reads by itself. On AWS the URLs are template parameters and
// the credentials a Secrets Manager secret (see ParseCredentials), which
// Settings.Env writes into a netrc (pip, uv) and an npm user config of the
// step's own, never into a URL, a command line or a log.
package indexes
