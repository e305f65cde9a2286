// Command crash exits with code 3 straight away. Its pod uses
// restartPolicy OnFailure, so wasmpod restarts it with a growing back-off and
// the container shows CrashLoopBackOff.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("crashing with exit code 3")
	os.Exit(3)
}
