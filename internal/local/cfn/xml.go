package cfn

import (
	"encoding/xml"
	"net/http"
	"time"
)

// namespace is the XML namespace of CloudFormation's answers.
const namespace = "http://cloudformation.amazonaws.com/doc/2010-05-15/"

// timeFormat is how CloudFormation writes times.
const timeFormat = "2006-01-02T15:04:05.000Z"

func xmlTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

// apiError is an error answer of the API.
type apiError struct {
	Code    string
	Message string
	Status  int
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// validationError is CloudFormation's answer to a request it refuses.
func validationError(msg string) error {
	return &apiError{Code: "ValidationError", Message: msg, Status: http.StatusBadRequest}
}

func writeResult(w http.ResponseWriter, action string, result any) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	enc := xml.NewEncoder(w)
	start := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: namespace}}}
	_ = enc.EncodeToken(start)
	if result != nil {
		_ = enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}})
	}
	_ = enc.EncodeElement(struct {
		RequestID string `xml:"RequestId"`
	}{newUUID()}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	_ = enc.EncodeToken(start.End())
	_ = enc.Flush()
}

func writeError(w http.ResponseWriter, e *apiError) {
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	body := struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Xmlns   string   `xml:"xmlns,attr"`
		Error   struct {
			Type    string
			Code    string
			Message string
		}
		RequestID string `xml:"RequestId"`
	}{Xmlns: namespace, RequestID: newUUID()}
	body.Error.Type, body.Error.Code, body.Error.Message = typ, e.Code, e.Message
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	_ = xml.NewEncoder(w).Encode(body)
}

type xParameter struct {
	ParameterKey   string
	ParameterValue string
	ResolvedValue  string `xml:",omitempty"`
}

type xTag struct {
	Key   string
	Value string
}

type xOutput struct {
	OutputKey   string
	OutputValue string
	Description string `xml:",omitempty"`
	ExportName  string `xml:",omitempty"`
}

type xDrift struct {
	StackDriftStatus string
}

type xStack struct {
	StackID                     string       `xml:"StackId"`
	StackName                   string       `xml:"StackName"`
	ChangeSetID                 string       `xml:"ChangeSetId,omitempty"`
	Description                 string       `xml:",omitempty"`
	Parameters                  []xParameter `xml:"Parameters>member"`
	CreationTime                string
	DeletionTime                string `xml:",omitempty"`
	LastUpdatedTime             string `xml:",omitempty"`
	StackStatus                 string
	StackStatusReason           string    `xml:",omitempty"`
	DisableRollback             bool      `xml:"DisableRollback"`
	Capabilities                []string  `xml:"Capabilities>member"`
	Outputs                     []xOutput `xml:"Outputs>member"`
	RoleARN                     string    `xml:",omitempty"`
	Tags                        []xTag    `xml:"Tags>member"`
	EnableTerminationProtection bool
	DriftInformation            xDrift
}

type xStackSummary struct {
	StackID             string `xml:"StackId"`
	StackName           string
	TemplateDescription string `xml:",omitempty"`
	CreationTime        string
	LastUpdatedTime     string `xml:",omitempty"`
	DeletionTime        string `xml:",omitempty"`
	StackStatus         string
	StackStatusReason   string `xml:",omitempty"`
}

type xEvent struct {
	StackID              string `xml:"StackId"`
	EventID              string `xml:"EventId"`
	StackName            string
	LogicalResourceID    string `xml:"LogicalResourceId"`
	PhysicalResourceID   string `xml:"PhysicalResourceId,omitempty"`
	ResourceType         string
	Timestamp            string
	ResourceStatus       string
	ResourceStatusReason string `xml:",omitempty"`
	ClientRequestToken   string `xml:",omitempty"`
}

type xResource struct {
	StackName            string `xml:",omitempty"`
	StackID              string `xml:"StackId,omitempty"`
	LogicalResourceID    string `xml:"LogicalResourceId"`
	PhysicalResourceID   string `xml:"PhysicalResourceId,omitempty"`
	ResourceType         string
	Timestamp            string `xml:",omitempty"`
	LastUpdatedTimestamp string `xml:",omitempty"`
	ResourceStatus       string
	ResourceStatusReason string `xml:",omitempty"`
	DriftInformation     *xResourceDrift
}

type xResourceDrift struct {
	StackResourceDriftStatus string
}

type xTarget struct {
	Attribute          string
	Name               string
	RequiresRecreation string
}

type xDetail struct {
	Target       xTarget
	Evaluation   string
	ChangeSource string
}

type xResourceChange struct {
	Action             string
	LogicalResourceID  string `xml:"LogicalResourceId"`
	PhysicalResourceID string `xml:"PhysicalResourceId,omitempty"`
	ResourceType       string
	Replacement        string    `xml:",omitempty"`
	Scope              []string  `xml:"Scope>member"`
	Details            []xDetail `xml:"Details>member"`
}

type xChange struct {
	Type           string
	ResourceChange xResourceChange
}

type xChangeSetSummary struct {
	StackID             string `xml:"StackId"`
	StackName           string
	ChangeSetID         string `xml:"ChangeSetId"`
	ChangeSetName       string
	ExecutionStatus     string
	Status              string
	StatusReason        string `xml:",omitempty"`
	CreationTime        string
	Description         string `xml:",omitempty"`
	IncludeNestedStacks bool
}

type xTemplateParameter struct {
	ParameterKey string
	DefaultValue string `xml:",omitempty"`
	NoEcho       bool
	Description  string `xml:",omitempty"`
}
