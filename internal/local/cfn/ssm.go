package cfn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// ssmClient calls the few SSM Parameter Store actions the engine needs,
// over SSM's JSON protocol (the module has no SSM client).
type ssmClient struct {
	cfg    aws.Config
	http   *http.Client
	signer *v4.Signer
}

func newSSMClient(cfg aws.Config) *ssmClient {
	return &ssmClient{cfg: cfg, http: &http.Client{Timeout: 30 * time.Second}, signer: v4.NewSigner()}
}

// ssmError is an error answer of SSM.
type ssmError struct {
	Code    string
	Message string
	Status  int
}

func (e *ssmError) Error() string {
	return fmt.Sprintf("%s (Service: Ssm, Status Code: %d, Error Code: %s)", e.Message, e.Status, e.Code)
}

func (c *ssmClient) call(ctx context.Context, action string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, aws.ToString(c.cfg.BaseEndpoint)+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonSSM."+action)
	if c.cfg.Credentials != nil {
		creds, err := c.cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return fmt.Errorf("ssm %s: credentials: %w", action, err)
		}
		sum := sha256.Sum256(body)
		if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "ssm", c.cfg.Region, time.Now()); err != nil {
			return fmt.Errorf("ssm %s: sign: %w", action, err)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("ssm %s: %w", action, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("ssm %s: %w", action, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
			Upper   string `json:"Message"`
		}
		_ = json.Unmarshal(data, &e)
		msg := e.Message
		if msg == "" {
			msg = e.Upper
		}
		code := e.Type
		if i := bytes.LastIndexByte([]byte(code), '#'); i >= 0 {
			code = code[i+1:]
		}
		return &ssmError{Code: code, Message: msg, Status: resp.StatusCode}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("ssm %s: read the answer: %w", action, err)
		}
	}
	return nil
}

// PutParameter creates or overwrites a parameter.
func (c *ssmClient) PutParameter(ctx context.Context, name, typ, value, description string, overwrite bool) error {
	in := map[string]any{"Name": name, "Type": typ, "Value": value, "Overwrite": overwrite}
	if description != "" {
		in["Description"] = description
	}
	return c.call(ctx, "PutParameter", in, nil)
}

// GetParameter returns a parameter's value.
func (c *ssmClient) GetParameter(ctx context.Context, name string) (string, error) {
	var out struct {
		Parameter struct {
			Value string `json:"Value"`
		} `json:"Parameter"`
	}
	if err := c.call(ctx, "GetParameter", map[string]any{"Name": name, "WithDecryption": true}, &out); err != nil {
		return "", err
	}
	return out.Parameter.Value, nil
}

// DeleteParameter deletes a parameter; one that does not exist is not an
// error.
func (c *ssmClient) DeleteParameter(ctx context.Context, name string) error {
	err := c.call(ctx, "DeleteParameter", map[string]any{"Name": name}, nil)
	if e, ok := err.(*ssmError); ok && e.Code == "ParameterNotFound" {
		return nil
	}
	return err
}
