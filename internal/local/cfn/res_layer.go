package cfn

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

func init() {
	register(map[string]*kind{
		"AWS::Lambda::LayerVersion": {
			attrs: []string{"LayerVersionArn"},
			// Every property of a layer version is immutable: any change
			// publishes a new version.
			replace: []string{"LayerName", "Description", "Content", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"},
			create:  createLayer,
			remove:  removeLayer,
		},
	})
}

// layerContent reads where a layer version's zip is: Content {S3Bucket,
// S3Key, S3ObjectVersion} (SAM's ContentUri).
func layerContent(r *resource) (s3Location, error) {
	c, ok := r.Props["Content"].(map[string]any)
	if !ok {
		return s3Location{}, reasonf("Content is required: {S3Bucket, S3Key}")
	}
	loc := s3Location{Bucket: toStringOr(c["S3Bucket"], ""), Key: toStringOr(c["S3Key"], ""), Version: toStringOr(c["S3ObjectVersion"], "")}
	if loc.Bucket == "" || loc.Key == "" {
		return s3Location{}, reasonf("Content must give S3Bucket and S3Key")
	}
	return loc, nil
}

// createLayer publishes a version of a layer: it checks that the zip is in
// the local S3 and keeps where it is under the version's ARN, which
// functions' Layers name. The layer's name is LayerName (SAM's
// translator gives the logical ID when the template gives none), or one
// made from the stack's name as CloudFormation makes it.
func createLayer(ctx context.Context, o *op, r *resource) error {
	loc, err := layerContent(r)
	if err != nil {
		return err
	}
	if _, err := o.e.getObject(ctx, loc, maxZipped); err != nil {
		return err
	}
	name := toStringOr(r.Props["LayerName"], "")
	if name == "" {
		name = r.physicalName(o.stackName, 140, false)
	}
	o.e.mu.Lock()
	o.e.layerVersions[name]++
	arn := fmt.Sprintf("arn:aws:lambda:%s:%s:layer:%s:%d", o.e.region, o.e.account, name, o.e.layerVersions[name])
	o.e.layers[arn] = loc
	o.e.mu.Unlock()
	r.Physical = arn
	r.Attrs = map[string]any{"LayerVersionArn": arn}
	return nil
}

// removeLayer deletes a layer version. (SAM's RetentionPolicy Retain, its
// default, is the version's DeletionPolicy Retain, which keeps it.)
func removeLayer(_ context.Context, o *op, r *resource) error {
	o.e.mu.Lock()
	delete(o.e.layers, r.Physical)
	o.e.mu.Unlock()
	return nil
}

// maxLayers is how many layers a function may have.
const maxLayers = 5

// functionLayers reads a function's Layers: the ARNs of layer versions.
func functionLayers(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, reasonf("Layers must be a list of layer version ARNs")
	}
	if len(list) > maxLayers {
		return nil, reasonf("Layers: a function may have at most %d layers, and has %d", maxLayers, len(list))
	}
	arns := make([]string, 0, len(list))
	for _, x := range list {
		arn, ok := x.(string)
		if !ok || !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":layer:") {
			return nil, reasonf("Layers: %v is not a layer version ARN", x)
		}
		if _, err := strconv.Atoi(arn[strings.LastIndex(arn, ":")+1:]); err != nil {
			return nil, reasonf("Layers: %s names no version", arn)
		}
		arns = append(arns, arn)
	}
	return arns, nil
}
