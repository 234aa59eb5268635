package cluster

import (
	"github.com/hashicorp/memberlist"
)

// delegate adapts memberlist's callbacks to the Node. memberlist calls
// them from its own goroutines, sometimes while holding its node lock, so
// none of them blocks, calls back into memberlist, or keeps a buffer it was
// handed (decode copies every string out).
type delegate struct{ n *Node }

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*delegate)(nil)
)

// NodeMeta carries only the leaving flag; the protocol version travels
// in every message instead.
func (d *delegate) NodeMeta(limit int) []byte {
	if d.n.leaving.Load() {
		return []byte{metaLeaving}
	}
	return nil
}

func isLeaving(node *memberlist.Node) bool {
	return len(node.Meta) > 0 && node.Meta[0] == metaLeaving
}

func (d *delegate) NotifyMsg(b []byte) { d.n.receive(b) }

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	msgs := d.n.queue.GetBroadcasts(overhead, limit)
	for _, m := range msgs {
		d.n.countSent(m)
	}
	return msgs
}

func (d *delegate) LocalState(join bool) []byte { return d.n.localState() }

func (d *delegate) MergeRemoteState(buf []byte, join bool) { d.n.mergeState(buf) }

func (d *delegate) NotifyJoin(node *memberlist.Node) {
	d.n.memberEvent(node.Name, node.Address(), memberAlive, isLeaving(node))
}

// NotifyLeave: memberlist passes a Node whose State field is not kept up
// to date, so dead and left are told apart by the leaving flag the node
// announced (memberEvent).
func (d *delegate) NotifyLeave(node *memberlist.Node) {
	d.n.memberEvent(node.Name, node.Address(), memberDead, false)
}

func (d *delegate) NotifyUpdate(node *memberlist.Node) {
	d.n.memberEvent(node.Name, node.Address(), memberAlive, isLeaving(node))
}

// broadcast is one queued gossip message. Its name ("obs/<node>/<endpoint>",
// "drain/<endpoint>" or "active/<name>") makes the queue drop an older copy
// of the same record when a newer one is queued.
type broadcast struct {
	name string
	msg  []byte
}

var _ memberlist.NamedBroadcast = (*broadcast)(nil)

func (b *broadcast) Invalidates(o memberlist.Broadcast) bool {
	nb, ok := o.(memberlist.NamedBroadcast)
	return ok && nb.Name() == b.name
}
func (b *broadcast) Message() []byte { return b.msg }
func (b *broadcast) Finished()       {}
func (b *broadcast) Name() string    { return b.name }
