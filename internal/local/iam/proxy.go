package iam

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// maxBody is the most of a request body the proxy reads to name its
// operation (JSON and query protocols; S3's bodies are never read).
const maxBody = 64 << 20

// Proxy authorizes each request to the local AWS before passing it on:
// it finds the principal by the access key of the request's SigV4
// signature, verifies the signature with the secret of that session
// (aws-sdk-go-v2's signer computes it again: Authorization headers and
// presigned URLs, S3's UNSIGNED-PAYLOAD, and streaming payloads by their
// seed signature and, for signed chunks, each chunk's), refuses a forged
// or expired one as the service does,
// maps the request to its IAM actions, evaluates them, and answers a
// denial as the service answers AccessDenied. It answers STS's
// AssumeRole and GetCallerIdentity for the roles and sessions it knows.
//
// Requests signed with an access key the authority did not issue (the
// local AWS's own "local" key, that stackflow local and its tests use)
// are the account's root and are let through unverified, as before IAM
// was enforced: their secrets are not the authority's to know.
type Proxy struct {
	auth     *Authority
	fallback http.Handler
	services map[string]http.Handler // by signing name
}

// NewProxy returns a proxy that passes authorized requests to target
// (kumo's URL), or, for the signing services that services names
// ("states", "cloudformation"), to the URL it gives.
func NewProxy(auth *Authority, target string, services map[string]string) (*Proxy, error) {
	transport := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	p := &Proxy{auth: auth, services: map[string]http.Handler{}}
	to := func(target string) (http.Handler, error) {
		u, err := url.Parse(target)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("IAM proxy: %q is not a URL of the local AWS", target)
		}
		rp := httputil.NewSingleHostReverseProxy(u)
		rp.Transport = transport
		rp.ErrorHandler = p.proxyError
		return rp, nil
	}
	var err error
	if p.fallback, err = to(target); err != nil {
		return nil, err
	}
	for svc, u := range services {
		if p.services[svc], err = to(u); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sig, ok := ParseSignature(r)
	if !ok {
		p.fallback.ServeHTTP(w, r)
		return
	}
	next := p.fallback
	if h := p.services[sig.Service]; h != nil {
		next = h
	}
	p.serve(w, r, sig, next)
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, sig Signature, next http.Handler) {
	if p.auth.opts.Mode != Off {
		if s := p.auth.session(sig.AccessKey); s != nil && !p.verified(w, r, sig, s) {
			return
		}
	}
	if sig.Service == "sts" {
		if p.serveSTS(w, r, sig) {
			return
		}
		next.ServeHTTP(w, r)
		return
	}
	if p.auth.opts.Mode == Off {
		next.ServeHTTP(w, r)
		return
	}
	s := p.auth.session(sig.AccessKey)
	if s == nil || s.Principal.Service != "" {
		next.ServeHTTP(w, r)
		return
	}
	var body []byte
	if sig.Service != "s3" && r.Body != nil {
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.Body, maxBody)); err != nil {
			http.Error(w, "read the request: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	call, err := Identify(sig.Service, r, body)
	var acts []Action
	if err == nil {
		acts, err = Actions(call, sig.Region, p.auth.opts.Account)
	}
	var unreadable *UnreadableError
	if errors.As(err, &unreadable) {
		// What the request says decides its action and could not be
		// read: refused when enforcing, never let through unasked.
		if p.auth.opts.Mode == Enforce {
			fmt.Fprintf(p.auth.opts.Log, "stackflow local: IAM refused: %v\n", err)
			writeDenial(w, sig.Service, err.Error())
			return
		}
		fmt.Fprintf(p.auth.opts.Log, "stackflow local: IAM would refuse (let through, --iam warn): %v\n", err)
		next.ServeHTTP(w, r)
		return
	}
	if err != nil {
		p.auth.warnOnce("act:"+err.Error(), "stackflow local: IAM: let through a request the data cannot map: %v", err)
		next.ServeHTTP(w, r)
		return
	}
	p.deploymentGroup(call, acts, sig.Region)
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	for _, act := range acts {
		if act.Action == NeedsNoPermission {
			continue
		}
		req, d := p.auth.Authorize(s, act, ip)
		if d.Allowed() {
			continue
		}
		if msg := p.auth.denied(req, d); msg != "" {
			writeDenial(w, call.Service, msg)
			return
		}
	}
	next.ServeHTTP(w, r)
}

// writeDenial answers AccessDenied as the service's protocol does.
func writeDenial(w http.ResponseWriter, service, msg string) {
	protocol := protocolOf(service)
	code, status := "AccessDenied", http.StatusForbidden
	switch protocol {
	case "rest-json":
		code = "AccessDeniedException"
	case "json":
		code, status = "AccessDeniedException", http.StatusBadRequest
	}
	writeError(w, protocol, status, code, msg)
}

// protocolOf returns the botocore protocol of a service, named by its
// botocore name or its signing name; json when it is not known.
func protocolOf(service string) string {
	data, _ := services()
	if data == nil {
		return "json"
	}
	if m := data.Services[service]; m != nil {
		return m.Protocol
	}
	for _, name := range sortedKeys(data.Services) {
		if m := data.Services[name]; m.SigningName == service {
			return m.Protocol
		}
	}
	return "json"
}

// writeError answers an error in a protocol's shape: S3's XML Error,
// the query protocols' ErrorResponse, and the JSON protocols' body with
// X-Amzn-ErrorType.
func writeError(w http.ResponseWriter, protocol string, status int, code, msg string) {
	id := requestID()
	w.Header().Set("X-Amzn-RequestId", id)
	switch protocol {
	case "rest-xml":
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		xml.NewEncoder(w).Encode(struct { //nolint:errcheck // the caller is gone
			XMLName   xml.Name `xml:"Error"`
			Code      string
			Message   string
			RequestID string `xml:"RequestId"`
		}{Code: code, Message: msg, RequestID: id})
	case "query":
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		type errorBody struct {
			Type    string
			Code    string
			Message string
		}
		xml.NewEncoder(w).Encode(struct { //nolint:errcheck // the caller is gone
			XMLName   xml.Name `xml:"ErrorResponse"`
			Error     errorBody
			RequestID string `xml:"RequestId"`
		}{Error: errorBody{Type: "Sender", Code: code, Message: msg}, RequestID: id})
	case "rest-json":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"Type": "User", "Message": msg}) //nolint:errcheck // the caller is gone
	default:
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg}) //nolint:errcheck // the caller is gone
	}
}

func requestID() string {
	s := strings.ToLower(randomString(32))
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// serveSTS answers AssumeRole of a role the authority knows and
// GetCallerIdentity of a session it issued; it reports false for
// anything else, which goes to kumo's STS.
func (p *Proxy) serveSTS(w http.ResponseWriter, r *http.Request, sig Signature) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "read the request: "+err.Error(), http.StatusBadRequest)
		return true
	}
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	for k, v := range r.URL.Query() {
		form[k] = append(form[k], v...)
	}
	s := p.auth.session(sig.AccessKey)
	switch form.Get("Action") {
	case "GetCallerIdentity":
		if s == nil {
			return false
		}
		writeXML(w, struct {
			XMLName xml.Name `xml:"GetCallerIdentityResponse"`
			NS      string   `xml:"xmlns,attr"`
			Result  struct {
				Arn     string
				UserID  string `xml:"UserId"`
				Account string
			} `xml:"GetCallerIdentityResult"`
			Meta responseMetadata `xml:"ResponseMetadata"`
		}{NS: stsNamespace, Result: struct {
			Arn     string
			UserID  string `xml:"UserId"`
			Account string
		}{s.Principal.ARN, s.RoleID, s.Principal.Account}, Meta: responseMetadata{requestID()}})
		return true
	case "AssumeRole":
		roleARN, name := form.Get("RoleArn"), form.Get("RoleSessionName")
		p.auth.mu.RLock()
		role := p.auth.roles[roleARN]
		p.auth.mu.RUnlock()
		if role == nil {
			return false // not a role of a local stack: kumo's STS answers
		}
		if s != nil && s.Principal.Service != "" {
			// A service assumes a role its trust policy lets it assume.
			ns, err := p.auth.Issue(roleARN, s.Principal.Service, name)
			if err != nil {
				req := Request{Principal: s.Principal, Action: "sts:AssumeRole", Resource: roleARN}
				msg := p.auth.denied(req, Decision{ImplicitlyDenied, "because no resource-based policy allows the sts:AssumeRole action"})
				if msg != "" {
					writeDenial(w, "sts", msg)
					return true
				}
				p.auth.mu.Lock()
				ns = p.auth.issueLocked(role, name)
				p.auth.mu.Unlock()
			}
			writeAssumeRole(w, ns)
			return true
		}
		if s != nil && p.auth.opts.Mode != Off {
			req, d := p.auth.Authorize(s, Action{Action: "sts:AssumeRole", Resource: roleARN, Context: map[string][]string{"sts:RoleSessionName": {name}}}, "")
			if !d.Allowed() {
				if msg := p.auth.denied(req, d); msg != "" {
					writeDenial(w, "sts", msg)
					return true
				}
			}
		}
		p.auth.mu.Lock()
		ns := p.auth.issueLocked(role, name)
		p.auth.mu.Unlock()
		writeAssumeRole(w, ns)
		return true
	}
	return false
}

// writeAssumeRole answers AssumeRole with a session's credentials.
func writeAssumeRole(w http.ResponseWriter, ns *Session) {
	type credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string
		SessionToken    string
		Expiration      string
	}
	type assumedRoleUser struct {
		AssumedRoleID string `xml:"AssumedRoleId"`
		Arn           string
	}
	type result struct {
		Credentials     credentials
		AssumedRoleUser assumedRoleUser
	}
	writeXML(w, struct {
		XMLName xml.Name         `xml:"AssumeRoleResponse"`
		NS      string           `xml:"xmlns,attr"`
		Result  result           `xml:"AssumeRoleResult"`
		Meta    responseMetadata `xml:"ResponseMetadata"`
	}{NS: stsNamespace, Result: result{
		credentials{ns.AccessKeyID, ns.SecretAccessKey, ns.SessionToken, ns.Expiration.UTC().Format(time.RFC3339)},
		assumedRoleUser{ns.RoleID, ns.Principal.ARN},
	}, Meta: responseMetadata{requestID()}})
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

func writeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "text/xml")
	io.WriteString(w, xml.Header) //nolint:errcheck // the caller is gone
	xml.NewEncoder(w).Encode(v)   //nolint:errcheck // the caller is gone
}

// deploymentGroup authorizes a CodeDeploy call that names a deployment
// (a hook's PutLifecycleEventHookExecutionStatus names only its
// deploymentId) on the deployment's group,
// arn:aws:codedeploy:<region>:<account>:deploymentgroup:<application>/<group>,
// which Options.Deployment names: the policy SAM documents for hooks
// allows the action on deploymentgroup:${ServerlessDeploymentApplication}/*,
// where the service authorization data gives the action no resource type
// (so "*").
func (p *Proxy) deploymentGroup(call Call, acts []Action, region string) {
	ids := call.Params["deploymentId"]
	if call.Service != "codedeploy" || len(ids) == 0 || p.auth.opts.Deployment == nil {
		return
	}
	app, group, ok := p.auth.opts.Deployment(ids[0])
	if !ok {
		return
	}
	for i := range acts {
		if acts[i].Resource == "*" && strings.HasPrefix(acts[i].Action, "codedeploy:") {
			acts[i].Resource = fmt.Sprintf("arn:aws:codedeploy:%s:%s:deploymentgroup:%s/%s", region, p.auth.opts.Account, app, group)
		}
	}
}

// proxyError answers a request the proxy could not pass on: one whose
// streaming body a chunk's signature ended (verifyChunks) as S3 answers
// it, SignatureDoesNotMatch; any other as httputil.ReverseProxy does, 502.
func (p *Proxy) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if ce := (*chunkError)(nil); errors.As(err, &ce) {
		writeRefusal(w, "s3", &refusal{badSignature, ce.message})
		return
	}
	fmt.Fprintf(p.auth.opts.Log, "stackflow local: IAM proxy: pass on %s %s: %v\n", r.Method, r.URL.Path, err)
	w.WriteHeader(http.StatusBadGateway)
}
