package main

import (
	"github.com/gslbd/gslbd/cluster"
	"github.com/gslbd/gslbd/gslb"
)

// saveDrain writes the state file as it will be once dr is applied,
// before it is: an operator's drain that cannot be persisted is refused
// (the API answers 500) and changes nothing, instead of being applied on
// every node and lost at this node's next restart.
func (d *stateFile) saveDrain(node *cluster.Node, dr gslb.Drain) error {
	drains := node.Drains()
	replaced := false
	for i := range drains {
		if drains[i].Key() == dr.Key() {
			drains[i], replaced = dr, true
		}
	}
	if !replaced {
		drains = append(drains, dr)
	}
	return d.save(drains, node.Writes())
}
