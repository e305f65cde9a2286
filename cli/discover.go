package cli

// serverLookupHelp is the App's description: how commands find the server.
const serverLookupHelp = `Commands other than run, serve, backup and restore talk to a wasmpod API server.`
