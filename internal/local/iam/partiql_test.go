package iam

import (
	"strings"
	"testing"
)

func TestReadPartiQL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, statement string
		want            partiQL
		err             string
	}{
		{"select of a quoted table", `SELECT * FROM "Orders" WHERE id = ?`, partiQL{Verb: "SELECT", Table: "Orders"}, ""},
		{"select of an index", `SELECT id FROM "Orders"."byCustomer" WHERE customer = ?`, partiQL{Verb: "SELECT", Table: "Orders", Index: "byCustomer"}, ""},
		{"lower case, bare table", `select * from Orders`, partiQL{Verb: "SELECT", Table: "Orders"}, ""},
		{"quoted names with dots and keywords", `SELECT "from" FROM "app.Orders" WHERE "from" = 'FROM x'`, partiQL{Verb: "SELECT", Table: "app.Orders"}, ""},
		{"a doubled quote in a name", `SELECT * FROM "a""b"`, partiQL{Verb: "SELECT", Table: `a"b`}, ""},
		{"insert", `INSERT INTO "Orders" VALUE {'id': ?, 'from': 'INTO x'}`, partiQL{Verb: "INSERT", Table: "Orders"}, ""},
		{"update", `UPDATE "Orders" SET n = n + 1 WHERE id = ?`, partiQL{Verb: "UPDATE", Table: "Orders"}, ""},
		{"delete with comments", "/* clean up */ DELETE -- the order\n FROM \"Orders\" WHERE id = ?", partiQL{Verb: "DELETE", Table: "Orders"}, ""},
		{"a transaction's condition check", `EXISTS(SELECT * FROM "Stock" WHERE id = ? AND n > 0)`, partiQL{Verb: "SELECT", Table: "Stock"}, ""},
		{"no table", `SELECT 1`, partiQL{}, "cannot read the table of a SELECT statement"},
		{"an unknown verb", `EXPLAIN SELECT * FROM "Orders"`, partiQL{}, `a statement that begins with "EXPLAIN" is none of SELECT, INSERT, UPDATE and DELETE`},
		{"no keyword", `'x'`, partiQL{}, "does not begin with a keyword"},
		{"empty", `  `, partiQL{}, "the statement is empty"},
		{"an unended quote", `SELECT * FROM "Orders`, partiQL{}, "a quote that does not end"},
		{"an unended comment", `/* SELECT * FROM "Orders"`, partiQL{}, "a comment that does not end"},
		{"exists of no select", `EXISTS("Orders")`, partiQL{}, "cannot read an EXISTS statement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readPartiQL(tt.statement)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %+v, %v; want an error saying %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
