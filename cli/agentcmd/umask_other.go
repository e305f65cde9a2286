//go:build !unix

package agentcmd

func privateUmask() {}
