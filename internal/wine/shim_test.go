package wine

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The stand-in is a well-formed PE32+ DLL for x86-64 whose export table has exactly one
// entry, by the name asked for, forwarded to the target.
func TestShim(t *testing.T) {
	img := Shim(ShimName, "ProcessPrng", "advapi32.SystemFunction036")
	f, err := pe.NewFile(bytes.NewReader(img))
	require.NoError(t, err)
	assert.Equal(t, uint16(pe.IMAGE_FILE_MACHINE_AMD64), f.Machine)
	assert.NotZero(t, f.Characteristics&pe.IMAGE_FILE_DLL)
	opt, ok := f.OptionalHeader.(*pe.OptionalHeader64)
	require.True(t, ok, "PE32+")
	assert.Zero(t, opt.AddressOfEntryPoint, "no code runs")
	dir := opt.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_EXPORT]
	require.NotZero(t, dir.Size)
	require.Len(t, f.Sections, 1)
	sec := f.Sections[0]
	data, err := sec.Data()
	require.NoError(t, err)
	at := func(rva uint32) []byte {
		require.GreaterOrEqual(t, rva, sec.VirtualAddress)
		require.Less(t, rva-sec.VirtualAddress, uint32(len(data)))
		return data[rva-sec.VirtualAddress:]
	}
	cstr := func(rva uint32) string {
		b := at(rva)
		return string(b[:bytes.IndexByte(b, 0)])
	}
	le := binary.LittleEndian
	ed := at(dir.VirtualAddress)
	assert.Equal(t, ShimName, cstr(le.Uint32(ed[12:])))
	require.Equal(t, uint32(1), le.Uint32(ed[20:]), "one function")
	require.Equal(t, uint32(1), le.Uint32(ed[24:]), "one name")
	name := cstr(le.Uint32(at(le.Uint32(ed[32:]))))
	assert.Equal(t, "ProcessPrng", name)
	ordinal := le.Uint16(at(le.Uint32(ed[36:])))
	fn := le.Uint32(at(le.Uint32(ed[28:]) + 4*uint32(ordinal)))
	require.True(t, fn >= dir.VirtualAddress && fn < dir.VirtualAddress+dir.Size,
		"the function's address lies inside the export directory: a forwarder")
	assert.Equal(t, "advapi32.SystemFunction036", cstr(fn))
	assert.Zero(t, len(img)%fileAlign, "the file is a whole number of file alignments")
}

func TestShimLongNames(t *testing.T) {
	long := string(bytes.Repeat([]byte("x"), 700))
	img := Shim("a.dll", long, "b."+long)
	f, err := pe.NewFile(bytes.NewReader(img))
	require.NoError(t, err)
	data, err := f.Sections[0].Data()
	require.NoError(t, err)
	assert.Contains(t, string(data), "b."+long)
}
