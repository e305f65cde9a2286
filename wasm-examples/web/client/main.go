// Command client calls http://web/ several times and prints the answers.
// The Service balances per connection, so the client opens a new connection
// for every request (DisableKeepAlives) and the answers come from both
// backends. It retries until the Service has endpoints (up to 30 s).
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/wasmpod/wasmpod/wasm-examples/podnet"
)

func main() {
	url := "http://web/"
	if len(os.Args) > 1 {
		url = os.Args[1]
	}
	tr := podnet.Transport()
	tr.DisableKeepAlives = true
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	deadline := time.Now().Add(30 * time.Second)
	seen := map[string]int{}
	// A backend that is still starting joins the Service a moment after
	// the first: after six answers from one backend, keep calling (until
	// the deadline) until a second one answers.
	for i := 1; i <= 6 || len(seen) < 2 && time.Now().Before(deadline); {
		body, err := get(client, url)
		if err != nil {
			if time.Now().After(deadline) {
				fmt.Fprintf(os.Stderr, "giving up on %s: %v\n", url, err)
				os.Exit(1)
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		fmt.Printf("request %d: %s\n", i, body)
		seen[body]++
		i++
		if i > 6 && len(seen) < 2 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	var backends []string
	for b := range seen {
		backends = append(backends, b)
	}
	sort.Strings(backends)
	fmt.Printf("%d backends answered: %s\n", len(backends), strings.Join(backends, ", "))
}

func get(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}
