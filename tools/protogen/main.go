// Command protogen compiles the .proto files under proto/ and writes their Go code, exactly as protoc with
// protoc-gen-go would, without a protoc binary: github.com/bufbuild/protocompile parses and links the files and
// protoc-gen-go's own generator (internal_gengo) writes the code. OpenIM's sdkws.proto, which the files import,
// is not read from disk: its descriptor comes from the pinned github.com/openimsdk/protocol/sdkws package, so the
// generated code refers to that package's types.
//
//	go run ./tools/protogen -I proto -module github.com/imspec/imserver -out . openim/msg.proto ...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bufbuild/protocompile"
	_ "github.com/openimsdk/protocol/sdkws" // registers sdkws/sdkws.proto and wrapperspb/wrapperspb.proto
	gengo "google.golang.org/protobuf/cmd/protoc-gen-go/internal_gengo"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/pluginpb"
)

func main() {
	importDir := flag.String("I", "proto", "directory the .proto paths are relative to")
	module := flag.String("module", "github.com/imspec/imserver", "Go module prefix stripped from go_package to place files")
	out := flag.String("out", ".", "directory that corresponds to -module")
	flag.Parse()
	if err := run(*importDir, *module, *out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "protogen:", err)
		os.Exit(1)
	}
}

func run(importDir, module, out string, files []string) error {
	if len(files) == 0 {
		return fmt.Errorf("no .proto files named")
	}
	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(protocompile.CompositeResolver{
			&protocompile.SourceResolver{ImportPaths: []string{importDir}},
			// Imports that are linked into this binary (sdkws, wrapperspb) resolve to their Go descriptors.
			protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
				fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
				if err != nil {
					return protocompile.SearchResult{}, err
				}
				return protocompile.SearchResult{Desc: fd}, nil
			}),
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	linked, err := compiler.Compile(context.Background(), files...)
	if err != nil {
		return err
	}

	// The request lists every file once, dependencies before dependants, as protoc does.
	req := &pluginpb.CodeGeneratorRequest{
		FileToGenerate: files,
		Parameter:      proto.String("module=" + module),
	}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
	}
	for _, f := range linked {
		add(f)
	}
	for _, fdp := range req.ProtoFile {
		if fdp.GetOptions().GetGoPackage() == "" {
			return fmt.Errorf("%s has no go_package option", fdp.GetName())
		}
	}

	gen, err := protogen.Options{}.New(req)
	if err != nil {
		return err
	}
	for _, f := range gen.Files {
		if f.Generate {
			gengo.GenerateFile(gen, f)
		}
	}
	gen.SupportedFeatures = gengo.SupportedFeatures
	resp := gen.Response()
	if resp.Error != nil {
		return fmt.Errorf("%s", resp.GetError())
	}
	for _, f := range resp.File {
		path := filepath.Join(out, filepath.FromSlash(f.GetName()))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(f.GetContent()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
