package subjects_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// keyOwners may touch a subject's wrapped data key: this package unwraps it,
// keys implements the KEK, sqlstore stores it and storetest checks that it
// is stored (it never unwraps).
var keyOwners = []string{"internal/subjects", "internal/keys", "internal/sqlstore", "internal/storetest"}

// TestOnlySubjectsUnwrapsSubjectKeys parses every Go file of the module and
// fails if any package but this one reads a subject's wrapped key from the
// store (SubjectKey) or unwraps something bound to a subject ("subject:…").
func TestOnlySubjectsUnwrapsSubjectKeys(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || owned(rel) {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			switch {
			case sel.Sel.Name == "SubjectKey":
				t.Errorf("%s: reads a subject's wrapped key; ask subjects.Registry for a Cipher instead", fset.Position(call.Pos()))
			case sel.Sel.Name == "Unwrap" && len(call.Args) == 3 && boundToSubject(call.Args[2]):
				t.Errorf("%s: unwraps a subject's key; only internal/subjects may", fset.Position(call.Pos()))
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files under %s: is the module root right?", checked, root)
	}
}

func owned(rel string) bool {
	for _, o := range keyOwners {
		if strings.HasPrefix(rel, o+"/") {
			return true
		}
	}
	return false
}

// boundToSubject reports whether an associated-data expression names a
// subject: a "subject:" literal or a call of a subjectAD-like helper.
func boundToSubject(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.BasicLit:
			found = found || strings.Contains(x.Value, "subject:")
		case *ast.Ident:
			found = found || strings.EqualFold(x.Name, "subjectAD")
		}
		return !found
	})
	return found
}
