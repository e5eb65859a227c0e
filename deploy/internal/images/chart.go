package images

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stellaops/authgate/pkg/yamljson"
)

// chartInfo is what the image name comes from: the chart deploys
// image.repository:appVersion by default.
type chartInfo struct {
	Repository, AppVersion, Home string
}

func readChart(dir string) (chartInfo, error) {
	var chart struct {
		AppVersion string `json:"appVersion"`
		Home       string `json:"home"`
	}
	var values struct {
		Image struct {
			Repository string `json:"repository"`
			Tag        string `json:"tag"`
		} `json:"image"`
	}
	if err := readYAML(filepath.Join(dir, "Chart.yaml"), &chart); err != nil {
		return chartInfo{}, err
	}
	if err := readYAML(filepath.Join(dir, "values.yaml"), &values); err != nil {
		return chartInfo{}, err
	}
	c := chartInfo{Repository: values.Image.Repository, AppVersion: chart.AppVersion, Home: chart.Home}
	switch {
	case c.Repository == "" || c.AppVersion == "":
		return c, fmt.Errorf("%s: image.repository and appVersion must be set", dir)
	case values.Image.Tag != "":
		return c, fmt.Errorf("%s: image.tag is %q; the built image is tagged with appVersion %q, so leave the default tag empty", dir, values.Image.Tag, c.AppVersion)
	}
	return c, nil
}

func readYAML(file string, v any) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := yamljson.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// sizes is the compressed size of each platform's image: manifest,
// config and layers, as a registry stores it.
func sizes(idx v1.ImageIndex) (map[string]int64, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, d := range m.Manifests {
		if d.Platform == nil {
			return nil, errors.New("index entry without a platform")
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		mf, err := img.Manifest()
		if err != nil {
			return nil, err
		}
		n := d.Size + mf.Config.Size
		for _, l := range mf.Layers {
			n += l.Size
		}
		out[d.Platform.String()] = n
	}
	return out, nil
}

func sorted(s []string) []string {
	sort.Strings(s)
	return s
}
