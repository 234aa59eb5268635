// Package configs holds gslbd's example configs and systemd unit. Its only
// Go API is Dev, the development config embedded for `gslbd -dev`; it
// imports nothing of gslbd and has no state besides that byte slice.
package configs
