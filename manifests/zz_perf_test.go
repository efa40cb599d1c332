package manifests
import ("fmt";"strings";"testing";"time")
func TestPerf(t *testing.T){
 var b strings.Builder
 b.WriteString("name: x\nimages:\n")
 for i:=0;i<20000;i++{ fmt.Fprintf(&b,"  - ref: a%d:1\n    aliases: [s/a%d:1]\n", i, i) }
 b.WriteString("files:\n")
 for i:=0;i<20000;i++{ fmt.Fprintf(&b,"  - url: https://h/f%d\n    paths: [/k/f%d, /k/f%d]\n", i, i, i) }
 st:=time.Now(); _, err := Parse("p", []byte(b.String())); t.Log(time.Since(st), len(b.String()), strings.Count(fmt.Sprint(err),"\n"))
 // alias amplification
 b.Reset()
 b.WriteString("name: x\nx: &l [")
 for i:=0;i<2000;i++{ b.WriteString("a,") }
 b.WriteString("a]\nimages:\n")
 for i:=0;i<2000;i++{ fmt.Fprintf(&b,"  - {ref: a%d:1, groups: *l}\n", i) }
 st=time.Now(); _, err = Parse("p", []byte(b.String())); t.Log(time.Since(st), len(b.String()), strings.Count(fmt.Sprint(err),"\n"))
}
