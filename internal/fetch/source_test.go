package fetch

import (
	"strings"
	"testing"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

func TestParseSource(t *testing.T) {
	tests := []struct {
		source   string
		insecure bool
		want     SourceRef
		wantErr  string
		wantCode int
	}{
		{source: "s3://bucket/fn/", want: SourceRef{Kind: KindS3Prefix, Bucket: "bucket", Key: "fn/"}},
		{source: "s3://bucket/fn", want: SourceRef{Kind: KindS3Prefix, Bucket: "bucket", Key: "fn/"}},
		{source: "s3://bucket", want: SourceRef{Kind: KindS3Prefix, Bucket: "bucket"}},
		{source: "s3://bucket/", want: SourceRef{Kind: KindS3Prefix, Bucket: "bucket"}},
		{source: "s3://bucket/a/code.tar.gz", want: SourceRef{Kind: KindS3Archive, Bucket: "bucket", Key: "a/code.tar.gz", Archive: ArchiveTarGz}},
		{source: "s3://bucket/code.TGZ", want: SourceRef{Kind: KindS3Archive, Bucket: "bucket", Key: "code.TGZ", Archive: ArchiveTarGz}},
		{source: "s3://bucket/code.tar", want: SourceRef{Kind: KindS3Archive, Bucket: "bucket", Key: "code.tar", Archive: ArchiveTar}},
		{source: "s3://bucket/code.zip?versionId=3HL4kqtJlcpXroDTDmJ%2B", want: SourceRef{Kind: KindS3Archive, Bucket: "bucket", Key: "code.zip", Archive: ArchiveZip, VersionID: "3HL4kqtJlcpXroDTDmJ+"}},
		{source: "s3://bucket/fn/?versionId=1", wantErr: "versionId applies to an archive", wantCode: step.CodeConfig},
		{source: "s3://bucket/code.zip?versionId=", wantErr: "versionId is empty", wantCode: step.CodeConfig},
		{source: "s3://bucket/code.zip?x=1", wantErr: `unknown query parameter "x"`, wantCode: step.CodeConfig},
		{source: "s3:///fn/", wantErr: "no bucket", wantCode: step.CodeConfig},
		{source: "https://git.example/repo.git", want: SourceRef{Kind: KindGit, GitURL: "https://git.example/repo.git"}},
		{source: "http://127.0.0.1:8080/repo.git", want: SourceRef{Kind: KindGit, GitURL: "http://127.0.0.1:8080/repo.git"}},
		{source: "http://localhost/repo.git", want: SourceRef{Kind: KindGit, GitURL: "http://localhost/repo.git"}},
		{source: "http://[::1]/repo.git", want: SourceRef{Kind: KindGit, GitURL: "http://[::1]/repo.git"}},
		{source: "http://git.example/repo.git", wantErr: "plain http", wantCode: step.CodeConfig},
		{source: "http://git.example/repo.git", insecure: true, want: SourceRef{Kind: KindGit, GitURL: "http://git.example/repo.git"}},
		{source: "http://user:hunter2@git.example/repo.git", wantErr: "REDACTED@git.example", wantCode: step.CodeConfig},
		{source: "ftp://host/code.zip", wantErr: `unknown scheme "ftp"`, wantCode: step.CodeConfig},
		{source: "git@github.com:org/repo.git", wantErr: "not a URL", wantCode: step.CodeConfig},
		{source: "/local/path", wantErr: "not a URL", wantCode: step.CodeConfig},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			got, err := ParseSource(tt.source, tt.insecure)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || step.ExitCode(err) != tt.wantCode {
					t.Fatalf("ParseSource = %+v, %v (exit %d); want exit %d and an error about %s", got, err, step.ExitCode(err), tt.wantCode, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("the error prints the password: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSource = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
