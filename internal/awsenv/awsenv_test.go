package awsenv

import (
	"context"
	"testing"
)

func TestS3PathStyleFollowsTheEndpoint(t *testing.T) {
	tests := []struct {
		name, endpoint, s3Endpoint string
		want                       bool
	}{
		{name: "AWS itself", want: false},
		{name: "a local AWS", endpoint: "http://127.0.0.1:4566", want: true},
		{name: "a local S3 only", s3Endpoint: "http://127.0.0.1:9000", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL", tt.endpoint)
			t.Setenv("AWS_ENDPOINT_URL_S3", tt.s3Endpoint)
			t.Setenv("AWS_REGION", "eu-west-1")
			cfg, err := Load(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			o := S3(cfg).Options()
			if o.UsePathStyle != tt.want || o.DisableLogOutputChecksumValidationSkipped != tt.want {
				t.Errorf("UsePathStyle, quiet checksums: got %v, %v; want %v", o.UsePathStyle, o.DisableLogOutputChecksumValidationSkipped, tt.want)
			}
			if cfg.Region != "eu-west-1" {
				t.Errorf("region: got %q, want eu-west-1", cfg.Region)
			}
		})
	}
}
