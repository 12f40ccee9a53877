package iam

import (
	"fmt"
	"strings"
	"unicode"
)

// partiQL is what authorizing a PartiQL statement of DynamoDB reads of
// it: its verb (SELECT, INSERT, UPDATE or DELETE) and the table (and
// index) it names.
type partiQL struct {
	Verb, Table, Index string
}

// readPartiQL reads a PartiQL statement's verb, from its first keyword,
// and its table, the quoted or bare identifier after FROM (SELECT,
// DELETE), INTO (INSERT) or UPDATE; a SELECT names an index as
// "Table"."Index". A transaction's condition check,
// EXISTS(SELECT ... FROM "Table" ...), reads items: it is the SELECT it
// wraps. Its errors name the kind of statement it could not read, never
// the statement, whose literals may be secrets.
func readPartiQL(statement string) (partiQL, error) {
	toks, err := partiQLTokens(statement)
	if err != nil {
		return partiQL{}, err
	}
	if len(toks) == 0 {
		return partiQL{}, fmt.Errorf("the statement is empty")
	}
	if strings.EqualFold(toks[0].text, "EXISTS") && toks[0].kind == wordToken {
		if len(toks) < 3 || toks[1].text != "(" || !strings.EqualFold(toks[2].text, "SELECT") {
			return partiQL{}, fmt.Errorf("cannot read an EXISTS statement: want EXISTS(SELECT ... FROM table ...)")
		}
		toks = toks[2:]
	}
	first := toks[0]
	if first.kind != wordToken {
		return partiQL{}, fmt.Errorf("the statement does not begin with a keyword (SELECT, INSERT, UPDATE or DELETE)")
	}
	verb := strings.ToUpper(first.text)
	// after is the index of the first token after the keyword kw at the
	// statement's own depth, -1 when there is none.
	after := func(kw string) int {
		depth := 0
		for i, t := range toks[1:] {
			switch {
			case t.kind == punctToken && strings.Contains("([{", t.text):
				depth++
			case t.kind == punctToken && strings.Contains(")]}", t.text):
				depth--
			case depth == 0 && t.kind == wordToken && strings.EqualFold(t.text, kw):
				return i + 2
			}
		}
		return -1
	}
	var at int
	switch verb {
	case "SELECT", "DELETE":
		at = after("FROM")
	case "INSERT":
		at = after("INTO")
	case "UPDATE":
		at = 1
	default:
		return partiQL{}, fmt.Errorf("a statement that begins with %s is none of SELECT, INSERT, UPDATE and DELETE", quoteKind(first.text))
	}
	if at < 0 || at >= len(toks) || !toks[at].identifier() {
		return partiQL{}, fmt.Errorf("cannot read the table of a %s statement", verb)
	}
	out := partiQL{Verb: verb, Table: toks[at].text}
	if verb == "SELECT" && at+2 < len(toks) && toks[at+1].text == "." && toks[at+1].kind == punctToken && toks[at+2].identifier() {
		out.Index = toks[at+2].text
	}
	return out, nil
}

// quoteKind quotes the first word of a statement, cut short: it names
// the kind of statement, and a long word is no keyword.
func quoteKind(w string) string {
	if len(w) > 24 {
		w = w[:24] + "..."
	}
	return fmt.Sprintf("%q", w)
}

type tokenKind int

const (
	wordToken   tokenKind = iota // a keyword or bare identifier
	quotedToken                  // a "quoted identifier", unquoted
	literal                      // a 'string' or an `Ion literal`
	punctToken                   // one character of punctuation
)

type token struct {
	kind tokenKind
	text string
}

func (t token) identifier() bool {
	return (t.kind == wordToken || t.kind == quotedToken) && t.text != ""
}

// partiQLTokens splits a statement into words, quoted identifiers,
// literals and punctuation, without its comments (-- to the end of the
// line, /* ... */).
func partiQLTokens(s string) ([]token, error) {
	var out []token
	rs := []rune(s)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '-' && i+1 < len(rs) && rs[i+1] == '-':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
		case r == '/' && i+1 < len(rs) && rs[i+1] == '*':
			j := i + 2
			for j+1 < len(rs) && (rs[j] != '*' || rs[j+1] != '/') {
				j++
			}
			if j+1 >= len(rs) {
				return nil, fmt.Errorf("the statement has a comment that does not end")
			}
			i = j + 2
		case r == '"' || r == '\'' || r == '`':
			var b strings.Builder
			j := i + 1
			for ; j < len(rs); j++ {
				if rs[j] == r {
					if r != '`' && j+1 < len(rs) && rs[j+1] == r { // a doubled quote is one
						b.WriteRune(r)
						j++
						continue
					}
					break
				}
				b.WriteRune(rs[j])
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("the statement has a quote that does not end")
			}
			kind := literal
			if r == '"' {
				kind = quotedToken
			}
			out = append(out, token{kind, b.String()})
			i = j + 1
		case r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			j := i
			for j < len(rs) && (rs[j] == '_' || unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j])) {
				j++
			}
			out = append(out, token{wordToken, string(rs[i:j])})
			i = j
		default:
			out = append(out, token{punctToken, string(r)})
			i++
		}
	}
	return out, nil
}
