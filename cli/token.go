package cli

// token.go: `wasmpod token create|list|delete`, kubeadm's token commands:
// bootstrap tokens with which `wasmpod agent --join` nodes get their own
// credential (package bootstrap).

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/rest"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"

	"github.com/wasmpod/wasmpod/bootstrap"
	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
)

func tokenCommand() *cmdline.Command {
	return &cmdline.Command{
		Name:  "token",
		Usage: "Manage bootstrap tokens, with which node agents join the cluster (kubeadm token)",
		Description: `Bootstrap tokens let 'wasmpod agent --join' nodes join: an agent with a token
learns and pins the cluster CA, then trades the token for its own node
credential. The token is kept as the Secret kube-system/bootstrap-token-<id>
and signs the kube-public/cluster-info ConfigMap, as kubeadm's.

These commands need the API server's HTTPS address and CA, which the join
command names: use serve's admin kubeconfig (<data-dir>/kubeconfig of
'wasmpod serve --listen'), or run them beside that serve (its Unix socket is
then found as for other commands, and its kubeconfig used).`,
		Flags: connFlags(),
		Subcommands: []*cmdline.Command{
			{
				Name:  "create",
				Usage: "Create a bootstrap token and print it (or the join command)",
				Description: `Creates a bootstrap token, valid for --ttl, and prints it. With
--print-join-command prints the whole command a node runs to join instead,
with the pin of the cluster CA, as 'kubeadm token create --print-join-command':

  wasmpod token create --print-join-command
  wasmpod agent --join https://10.0.0.1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:...

The join command names the API server as this command reaches it (the
server of the kubeconfig, or --server): use an address the nodes can reach.`,
				Flags: append(connFlags(),
					&cmdline.DurationFlag{Name: "ttl", Usage: "how long the token is valid (e.g. 30m, 24h); it cannot be used to join after that", Value: bootstrap.DefaultTTL},
					&cmdline.StringFlag{Name: "description", Usage: "a human-friendly description of the token's use"},
					&cmdline.BoolFlag{Name: "print-join-command", Usage: "print the 'wasmpod agent --join' command with the token and the CA's hash instead of the token alone"},
				),
				Action: tokenCreate,
			},
			{
				Name:    "list",
				Aliases: []string{"ls"},
				Usage:   "List the bootstrap tokens (their IDs, not their secrets)",
				Flags:   connFlags(),
				Action:  tokenList,
			},
			{
				Name:      "delete",
				Usage:     "Delete bootstrap tokens: they no longer join nodes (nodes that joined keep their credential)",
				ArgsUsage: "TOKEN-ID|TOKEN...",
				Flags:     connFlags(),
				Action:    tokenDelete,
			},
		},
	}
}

// tokenAdmin is the admin's client configuration for the token commands:
// HTTPS with the CA, which cluster-info publishes to joining nodes. Over
// the Unix socket of a serve with --listen, that serve's kubeconfig.
func tokenAdmin(c *cmdline.Context) (*rest.Config, error) {
	cfg, server, _, err := locateServer(c) // discover.go
	if err != nil {
		var ce *cmdError
		if errors.As(err, &ce) {
			return nil, ce
		}
		return nil, usageErr(err.Error())
	}
	if sock, ok := strings.CutPrefix(server, "unix://"); ok {
		if abs, err := filepath.Abs(sock); err == nil {
			sock = abs
		}
		live, _ := liveServers()
		for _, r := range live {
			if r.Socket == sock && r.Kubeconfig != "" {
				kcfg, _, _, err := kubeconfigServer(r.Kubeconfig, nil, "", "")
				if err != nil {
					return nil, usageErr(err.Error())
				}
				return kcfg, nil
			}
		}
		return nil, errorf("the API server at %s has no HTTPS address for nodes to join: start 'wasmpod serve' with --listen, and use the kubeconfig it writes (--kubeconfig <data-dir>/kubeconfig)", server)
	}
	if !strings.HasPrefix(cfg.Host, "https://") {
		return nil, errorf("the API server %s is not HTTPS: nodes join over HTTPS ('wasmpod serve --listen', and its kubeconfig)", server)
	}
	if err := rest.LoadTLSFiles(cfg); err != nil {
		return nil, errorf("the API server's CA: %v", err)
	}
	if len(cfg.CAData) == 0 {
		return nil, errorf("no CA for the API server %s: joining nodes pin it; use serve's kubeconfig or --certificate-authority in one", server)
	}
	return cfg, nil
}

func tokenCreate(c *cmdline.Context) error {
	if c.NArg() != 0 {
		return errorf("token create takes no arguments (the token is generated): got %q", c.Args().Slice())
	}
	ttl := c.Duration("ttl")
	if ttl <= 0 {
		return errorf("--ttl %v: must be positive (a token that never expires is not offered)", ttl)
	}
	admin, err := tokenAdmin(c)
	if err != nil {
		return err
	}
	tok, err := bootstrap.CreateToken(c.Context, admin, bootstrap.TokenOptions{TTL: ttl, Description: c.String("description")})
	if err != nil {
		return errorf("creating the bootstrap token: %v", err)
	}
	if !c.Bool("print-join-command") {
		fmt.Fprintln(c.App.Writer, tok)
		return nil
	}
	hash, err := bootstrap.CACertHash(admin.CAData)
	if err != nil {
		return errorf("the cluster CA: %v", err)
	}
	server := strings.TrimSuffix(admin.Host, "/")
	fmt.Fprintf(c.App.Writer, "wasmpod agent --join %s --token %s --discovery-token-ca-cert-hash %s\n", server, tok, hash)
	if u, err := url.Parse(server); err == nil {
		if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || ip != nil && ip.IsLoopback() {
			fmt.Fprintf(c.App.ErrWriter, "note: %s is a loopback address, which other machines do not reach: there, give --join an address of this server they reach (its serving certificate names the --listen host, or every local address for a wildcard --listen)\n", server)
		}
	}
	return nil
}

func tokenList(c *cmdline.Context) error {
	if c.NArg() != 0 {
		return errorf("token list takes no arguments")
	}
	admin, err := tokenAdmin(c)
	if err != nil {
		return err
	}
	now := time.Now()
	tokens, err := bootstrap.ListTokens(c.Context, admin, now)
	if err != nil {
		return errorf("listing the bootstrap tokens: %v", err)
	}
	if len(tokens) == 0 {
		return nil // as kubeadm token list
	}
	tw := tabwriter.NewWriter(c.App.Writer, 10, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "TOKEN\tTTL\tEXPIRES\tUSAGES\tDESCRIPTION\tEXTRA GROUPS")
	for _, t := range tokens {
		fmt.Fprintln(tw, strings.Join(tokenRow(t, now), "\t"))
	}
	return tw.Flush()
}

// tokenRow is a token's line in kubeadm token list's columns. The secret
// half of the token is not shown (bootstrap.TokenInfo does not carry it).
func tokenRow(t bootstrap.TokenInfo, now time.Time) []string {
	ttl, expires := "<forever>", "<never>"
	if !t.Expires.IsZero() {
		ttl = duration.ShortHumanDuration(t.Expires.Sub(now)) // "<invalid>" once expired
		expires = t.Expires.UTC().Format(time.RFC3339)
	}
	desc := t.Description
	if desc == "" {
		desc = "<none>"
	}
	groups := slices.DeleteFunc(slices.Clone(t.Groups), func(g string) bool { return g == bootstrapapi.BootstrapDefaultGroup })
	usages := slices.Sorted(slices.Values(t.Usages)) // as kubeadm's
	return []string{t.ID, ttl, expires, strings.Join(usages, ","), desc, strings.Join(groups, ",")}
}

func tokenDelete(c *cmdline.Context) error {
	if c.NArg() == 0 {
		return errorf("token delete needs the ID or the whole token of at least one bootstrap token (wasmpod token list shows the IDs)")
	}
	admin, err := tokenAdmin(c)
	if err != nil {
		return err
	}
	var failed []string
	for _, t := range c.Args() {
		if err := bootstrap.DeleteToken(c.Context, admin, t, time.Now()); err != nil {
			failed = append(failed, "error: "+err.Error())
			continue
		}
		id, _, _ := strings.Cut(t, ".")
		fmt.Fprintf(c.App.Writer, "bootstrap token %q deleted\n", id)
	}
	if len(failed) > 0 {
		return &cmdError{msg: strings.Join(failed, "\n"), code: 1}
	}
	return nil
}
