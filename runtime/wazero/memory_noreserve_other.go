//go:build darwin || freebsd

package wazero

// mapNoReserve: PROT_NONE mappings are not charged on these systems.
const mapNoReserve = 0
