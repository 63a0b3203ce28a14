// Command kube-apiserver is the upstream Kubernetes API server, unchanged,
// built from the k8s.io/kubernetes module at the version pinned in go.mod.
package main

import (
	"os"
	_ "time/tzdata" // CronJob spec.timeZone is validated against the tz database

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	command := app.NewAPIServerCommand()
	code := cli.Run(command)
	os.Exit(code)
}
