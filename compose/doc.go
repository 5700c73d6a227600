// Package compose loads berth's desired-state model (package
// compose/model) from Compose files. Nothing outside this package sees
// compose-go types.
package compose
