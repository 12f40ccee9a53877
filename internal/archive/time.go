package archive

import "time"

// fixedTime is the modification time of every entry Create writes, so that
// the same tree always gives the same bytes.
var fixedTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
