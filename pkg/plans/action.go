package plans

// actionSet is a bit set of repository actions.
type actionSet uint8

const (
	actPull actionSet = 1 << iota
	actPush
	actDelete

	actAll = actPull | actPush | actDelete
)

// Action names of the distribution token specification.
const (
	ActionPull   = "pull"
	ActionPush   = "push"
	ActionDelete = "delete"
	ActionAll    = "*"
)

// Resource types and the one registry resource the service knows.
const (
	TypeRepository = "repository"
	TypeRegistry   = "registry"
	NameCatalog    = "catalog"
)

// repositoryAction maps one action name of a repository scope to its bits.
// "*" stands for every repository action.
func repositoryAction(s string) (actionSet, bool) {
	switch s {
	case ActionPull:
		return actPull, true
	case ActionPush:
		return actPush, true
	case ActionDelete:
		return actDelete, true
	case ActionAll:
		return actAll, true
	}
	return 0, false
}

// count is the number of actions in the set.
func (a actionSet) count() int {
	n := 0
	for b := a; b != 0; b &= b - 1 {
		n++
	}
	return n
}

// names returns the actions of the set in the canonical order pull, push,
// delete, in a fresh slice (nil when the set is empty).
func (a actionSet) names() []string {
	if a == 0 {
		return nil
	}
	out := make([]string, 0, a.count())
	if a&actPull != 0 {
		out = append(out, ActionPull)
	}
	if a&actPush != 0 {
		out = append(out, ActionPush)
	}
	if a&actDelete != 0 {
		out = append(out, ActionDelete)
	}
	return out
}
