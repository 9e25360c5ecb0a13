package main

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode/utf16"
)

// Resource type IDs (winuser.h).
const (
	rtIcon      = 3
	rtGroupIcon = 14
	rtVersion   = 16
	rtManifest  = 24
)

// Optional header values (winnt.h).
const (
	subsystemWindowsGUI = 2
	subsystemWindowsCUI = 3
	dirResource         = 2
	dirSecurity         = 4
	winCertRevision2    = 0x0200
	winCertTypePKCS     = 0x0002
	vsFixedSignature    = 0xFEEF04BD
)

// runPE checks a Windows executable: subsystem, embedded resources and the
// Authenticode certificate table.
func runPE(args []string) error {
	fs := flag.NewFlagSet("pe", flag.ContinueOnError)
	wantGUI := fs.Bool("gui", false, "require the Windows GUI subsystem (no console window)")
	wantSigned := fs.Bool("signed", false, "require an Authenticode signature (certificate table)")
	wantIcon := fs.Bool("icon", false, "require an icon group resource")
	wantManifest := fs.String("manifest", "", "require a manifest resource containing this text")
	wantVersion := fs.String("version", "", "require a version resource whose ProductVersion starts with this")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("pe: want exactly one FILE")
	}
	path := fs.Arg(0)
	f, err := pe.Open(path)
	if err != nil {
		return fmt.Errorf("pe: %w", err)
	}
	defer f.Close()

	var subsystem uint16
	var dirs []pe.DataDirectory
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader64:
		subsystem, dirs = oh.Subsystem, oh.DataDirectory[:oh.NumberOfRvaAndSizes]
	case *pe.OptionalHeader32:
		subsystem, dirs = oh.Subsystem, oh.DataDirectory[:oh.NumberOfRvaAndSizes]
	default:
		return fmt.Errorf("pe: %s has no optional header", path)
	}
	fmt.Printf("file: %s\n", path)
	fmt.Printf("machine: %#x\n", f.Machine)
	fmt.Printf("subsystem: %d (%s)\n", subsystem, subsystemName(subsystem))
	if *wantGUI && subsystem != subsystemWindowsGUI {
		return fmt.Errorf("pe: %s: subsystem is %d (%s), want %d (windows GUI): build with -ldflags -H=windowsgui",
			path, subsystem, subsystemName(subsystem), subsystemWindowsGUI)
	}

	if err := checkSignature(path, dirs, *wantSigned); err != nil {
		return err
	}

	res, err := readResources(f, dirs)
	if err != nil {
		return fmt.Errorf("pe: %s: %w", path, err)
	}
	fmt.Printf("resource types: %s\n", res.typeList())

	if *wantIcon {
		if err := checkIcons(res); err != nil {
			return fmt.Errorf("pe: %s: %w", path, err)
		}
	}
	if *wantManifest != "" {
		m := res.first(rtManifest)
		if m == nil {
			return fmt.Errorf("pe: %s: no RT_MANIFEST resource", path)
		}
		if !bytes.Contains(m, []byte(*wantManifest)) {
			return fmt.Errorf("pe: %s: manifest lacks %q", path, *wantManifest)
		}
		fmt.Printf("manifest: %d bytes, contains %q\n", len(m), *wantManifest)
	}
	if *wantVersion != "" {
		if err := checkVersion(res, *wantVersion); err != nil {
			return fmt.Errorf("pe: %s: %w", path, err)
		}
	}
	return nil
}

func subsystemName(s uint16) string {
	switch s {
	case subsystemWindowsGUI:
		return "windows GUI"
	case subsystemWindowsCUI:
		return "windows console"
	default:
		return "other"
	}
}

// checkSignature looks at the certificate table (data directory 4), whose
// address is a file offset, and at the WIN_CERTIFICATE header there.
func checkSignature(path string, dirs []pe.DataDirectory, required bool) error {
	if len(dirs) <= dirSecurity || dirs[dirSecurity].Size == 0 {
		fmt.Println("signature: none")
		if required {
			return fmt.Errorf("pe: %s: no Authenticode signature (empty certificate table)", path)
		}
		return nil
	}
	d := dirs[dirSecurity]
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("pe: %w", err)
	}
	end := uint64(d.VirtualAddress) + uint64(d.Size)
	if end > uint64(len(raw)) || d.Size < 8 {
		return fmt.Errorf("pe: %s: certificate table [%d,+%d) lies outside the file (%d bytes)", path, d.VirtualAddress, d.Size, len(raw))
	}
	cert := raw[d.VirtualAddress:end]
	length := binary.LittleEndian.Uint32(cert[0:])
	revision := binary.LittleEndian.Uint16(cert[4:])
	typ := binary.LittleEndian.Uint16(cert[6:])
	fmt.Printf("signature: WIN_CERTIFICATE length %d, revision %#x, type %#x\n", length, revision, typ)
	if revision != winCertRevision2 || typ != winCertTypePKCS || length < 8 || length > d.Size {
		return fmt.Errorf("pe: %s: certificate table does not hold a PKCS#7 Authenticode signature", path)
	}
	return nil
}

// resources maps a resource type ID to the data of each of its leaves, keyed
// by resource ID (named resources are keyed -1).
type resources map[uint32]map[int64][]byte

func (r resources) typeList() string {
	names := map[uint32]string{rtIcon: "RT_ICON", rtGroupIcon: "RT_GROUP_ICON", rtVersion: "RT_VERSION", rtManifest: "RT_MANIFEST"}
	var out []string
	for t, leaves := range r {
		n, ok := names[t]
		if !ok {
			n = fmt.Sprintf("type %d", t)
		}
		out = append(out, fmt.Sprintf("%s x%d", n, len(leaves)))
	}
	if len(out) == 0 {
		return "none"
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

func (r resources) first(typ uint32) []byte {
	for _, d := range r[typ] {
		return d
	}
	return nil
}

// readResources walks the three-level resource tree (type, ID, language) of
// the .rsrc data directory.
func readResources(f *pe.File, dirs []pe.DataDirectory) (resources, error) {
	res := resources{}
	if len(dirs) <= dirResource || dirs[dirResource].Size == 0 {
		return res, nil
	}
	rva := dirs[dirResource].VirtualAddress
	var sec *pe.Section
	for _, s := range f.Sections {
		if rva >= s.VirtualAddress && rva < s.VirtualAddress+s.VirtualSize {
			sec = s
		}
	}
	if sec == nil {
		return nil, fmt.Errorf("resource directory RVA %#x is in no section", rva)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read section %s: %w", sec.Name, err)
	}
	base := rva - sec.VirtualAddress
	at := func(off, n uint32) ([]byte, error) {
		if uint64(off)+uint64(n) > uint64(len(data)) {
			return nil, fmt.Errorf("resource data [%d,+%d) out of section %s", off, n, sec.Name)
		}
		return data[off : off+n], nil
	}
	type entry struct {
		id     uint32
		named  bool
		subdir bool
		offset uint32
	}
	readDir := func(off uint32) ([]entry, error) {
		hdr, err := at(base+off, 16)
		if err != nil {
			return nil, err
		}
		n := uint32(binary.LittleEndian.Uint16(hdr[12:])) + uint32(binary.LittleEndian.Uint16(hdr[14:]))
		raw, err := at(base+off+16, 8*n)
		if err != nil {
			return nil, err
		}
		out := make([]entry, n)
		for i := range out {
			name := binary.LittleEndian.Uint32(raw[8*i:])
			ptr := binary.LittleEndian.Uint32(raw[8*i+4:])
			out[i] = entry{id: name & 0x7fffffff, named: name&0x80000000 != 0, subdir: ptr&0x80000000 != 0, offset: ptr & 0x7fffffff}
		}
		return out, nil
	}
	types, err := readDir(0)
	if err != nil {
		return nil, err
	}
	for _, t := range types {
		if !t.subdir || t.named {
			continue
		}
		ids, err := readDir(t.offset)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if !id.subdir {
				continue
			}
			langs, err := readDir(id.offset)
			if err != nil {
				return nil, err
			}
			for _, l := range langs {
				if l.subdir {
					continue
				}
				de, err := at(base+l.offset, 16)
				if err != nil {
					return nil, err
				}
				dataRVA := binary.LittleEndian.Uint32(de[0:])
				size := binary.LittleEndian.Uint32(de[4:])
				if dataRVA < sec.VirtualAddress {
					return nil, fmt.Errorf("resource leaf RVA %#x before section %s", dataRVA, sec.Name)
				}
				b, err := at(dataRVA-sec.VirtualAddress, size)
				if err != nil {
					return nil, err
				}
				key := int64(id.id)
				if id.named {
					key = -1
				}
				if res[t.id] == nil {
					res[t.id] = map[int64][]byte{}
				}
				res[t.id][key] = b
			}
		}
	}
	return res, nil
}

// checkIcons requires an icon group whose every member is present as RT_ICON.
func checkIcons(res resources) error {
	grp := res.first(rtGroupIcon)
	if len(grp) < 6 {
		return errors.New("no RT_GROUP_ICON resource (application icon)")
	}
	count := int(binary.LittleEndian.Uint16(grp[4:]))
	if len(grp) < 6+14*count || count == 0 {
		return fmt.Errorf("icon group holds %d entries in %d bytes", count, len(grp))
	}
	var sizes []string
	for i := range count {
		e := grp[6+14*i:]
		w := int(e[0])
		if w == 0 {
			w = 256
		}
		id := int64(binary.LittleEndian.Uint16(e[12:]))
		if _, ok := res[rtIcon][id]; !ok {
			return fmt.Errorf("icon group entry %d names RT_ICON %d, which is missing", i, id)
		}
		sizes = append(sizes, fmt.Sprint(w))
	}
	fmt.Printf("icon: %d images, sizes %s\n", count, strings.Join(sizes, ","))
	return nil
}

// checkVersion reads VS_FIXEDFILEINFO and the ProductVersion string.
func checkVersion(res resources, want string) error {
	vi := res.first(rtVersion)
	if vi == nil {
		return errors.New("no RT_VERSION resource")
	}
	root, _, err := parseVersionNode(vi)
	if err != nil {
		return fmt.Errorf("version resource: %w", err)
	}
	if root.key != "VS_VERSION_INFO" {
		return fmt.Errorf("version resource root is %q, want VS_VERSION_INFO", root.key)
	}
	fixed := root.value
	if len(fixed) < 52 || binary.LittleEndian.Uint32(fixed) != vsFixedSignature {
		return errors.New("version resource has no VS_FIXEDFILEINFO")
	}
	fileMS, fileLS := binary.LittleEndian.Uint32(fixed[8:]), binary.LittleEndian.Uint32(fixed[12:])
	prodMS, prodLS := binary.LittleEndian.Uint32(fixed[16:]), binary.LittleEndian.Uint32(fixed[20:])
	fileV := fmt.Sprintf("%d.%d.%d.%d", fileMS>>16, fileMS&0xffff, fileLS>>16, fileLS&0xffff)
	prodV := fmt.Sprintf("%d.%d.%d.%d", prodMS>>16, prodMS&0xffff, prodLS>>16, prodLS&0xffff)
	fmt.Printf("version: fixed file %s, fixed product %s\n", fileV, prodV)

	values := versionStrings(root)
	for _, k := range []string{"ProductName", "FileDescription", "ProductVersion", "FileVersion", "OriginalFilename"} {
		fmt.Printf("version: %s = %q\n", k, values[k])
	}
	if !strings.HasPrefix(values["ProductVersion"], want) {
		return fmt.Errorf("version resource ProductVersion is %q, want %q", values["ProductVersion"], want)
	}
	numeric, _, _ := strings.Cut(want, "-")
	if !strings.HasPrefix(prodV, numeric) {
		return fmt.Errorf("fixed product version is %s, want %s", prodV, numeric)
	}
	return nil
}

// versionNode is one node of a VS_VERSIONINFO tree (VS_VERSIONINFO,
// StringFileInfo, StringTable, String, VarFileInfo, Var).
type versionNode struct {
	key      string
	value    []byte // raw value bytes; text values are UTF-16LE without the NUL
	text     bool
	children []versionNode
}

// parseVersionNode parses the node at the start of b and returns it with the
// number of bytes it occupies.
func parseVersionNode(b []byte) (versionNode, int, error) {
	if len(b) < 6 {
		return versionNode{}, 0, errors.New("version node truncated")
	}
	length := int(binary.LittleEndian.Uint16(b[0:]))
	valueLen := int(binary.LittleEndian.Uint16(b[2:]))
	typ := binary.LittleEndian.Uint16(b[4:])
	if length < 6 || length > len(b) {
		return versionNode{}, 0, fmt.Errorf("version node length %d outside %d bytes", length, len(b))
	}
	b = b[:length]
	n := versionNode{text: typ == 1}
	off := 6
	var key []uint16
	for ; off+1 < len(b); off += 2 {
		c := binary.LittleEndian.Uint16(b[off:])
		if c == 0 {
			off += 2
			break
		}
		key = append(key, c)
	}
	n.key = string(utf16.Decode(key))
	off = align4(off)
	if n.text {
		valueLen *= 2
	}
	if off+valueLen > len(b) {
		valueLen = max(0, len(b)-off)
	}
	n.value = b[off : off+valueLen]
	if n.text {
		n.value = bytes.TrimRight(n.value, "\x00")
		if len(n.value)%2 == 1 {
			n.value = append(n.value, 0)
		}
	}
	off = align4(off + valueLen)
	for off < len(b) {
		c, used, err := parseVersionNode(b[off:])
		if err != nil {
			return versionNode{}, 0, err
		}
		n.children = append(n.children, c)
		off = align4(off + used)
	}
	return n, length, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// versionStrings collects the String entries of every StringTable.
func versionStrings(root versionNode) map[string]string {
	out := map[string]string{}
	for _, sfi := range root.children {
		if sfi.key != "StringFileInfo" {
			continue
		}
		for _, table := range sfi.children {
			for _, s := range table.children {
				out[s.key] = utf16Text(s.value)
			}
		}
	}
	return out
}

// utf16Text decodes UTF-16LE bytes.
func utf16Text(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}
