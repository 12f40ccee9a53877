package pipeline

// MatchARN reports whether arn matches pattern as IAM matches a policy's
// Resource and a principal pattern: "*" stands for any run of characters,
// slashes and colons included, and "?" for any one character; everything
// else must be equal, case included.
func MatchARN(pattern, arn string) bool {
	// Greedy glob matching, backtracking to the last "*".
	p, a := 0, 0
	star, mark := -1, 0
	for a < len(arn) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == arn[a]):
			p++
			a++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, a
			p++
		case star >= 0:
			p = star + 1
			mark++
			a = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
