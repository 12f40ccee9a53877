// Package stackflow holds the pipeline's own SAM application as data: the
// template that installs it and the state machine definition it runs. The
// command line embeds them so that `stackflow local` installs exactly what
// `sam deploy` installs.
package stackflow

import _ "embed"

// Template is template.yaml, the pipeline's SAM template.
//
//go:embed template.yaml
var Template []byte

// Definition is statemachine/pipeline.asl.json, the state machine's Amazon
// States Language definition with ${Placeholders} for its
// DefinitionSubstitutions.
//
//go:embed statemachine/pipeline.asl.json
var Definition []byte
