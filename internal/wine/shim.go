package wine

import "encoding/binary"

// Programs built by Go 1.24 and later load ProcessPrng from bcryptprimitives.dll before
// anything else and stop when it is missing, as it is in Wine 8.0. ProcessPrng fills a buffer
// with random bytes and returns TRUE; advapi32's SystemFunction036 (RtlGenRandom), which Wine
// has, takes the same two arguments, a pointer and a length, and returns TRUE on success. So
// the stand-in is a DLL that holds nothing but an export table whose one entry forwards
// ProcessPrng to advapi32.SystemFunction036: the loader resolves it without running any code
// of ours.

// ShimName is the file name of the stand-in DLL, to be put in the prefix's system32.
const ShimName = "bcryptprimitives.dll"

// Layout of the stand-in: the headers in the first fileAlign bytes, then one section that
// holds the export directory, mapped at sectionRVA.
const (
	fileAlign    = 0x200
	sectionAlign = 0x1000
	sectionRVA   = 0x1000
	imageBase    = 0x180000000

	peOffset     = 0x40 // e_lfanew: the PE signature follows the DOS header at once
	coffOffset   = peOffset + 4
	optOffset    = coffOffset + 20
	optSize      = 240 // the PE32+ optional header with its 16 data directories
	sectionTable = optOffset + optSize

	machineAMD64        = 0x8664
	magicPE32Plus       = 0x20b
	fileExecutableImage = 0x0002
	fileLargeAddress    = 0x0020
	fileDLL             = 0x2000
	subsystemConsole    = 3
	dllNXCompat         = 0x0100
	sectionData         = 0x00000040 // IMAGE_SCN_CNT_INITIALIZED_DATA
	sectionRead         = 0x40000000 // IMAGE_SCN_MEM_READ
	exportDirLen        = 40
)

// Shim gives the bytes of a PE32+ (x86-64) DLL named dllName whose only export, export,
// forwards to target ("module.function"). With the defaults of this package:
// Shim(ShimName, "ProcessPrng", "advapi32.SystemFunction036").
func Shim(dllName, export, target string) []byte {
	// The section: export directory, address table (1 entry), name pointer table (1 entry),
	// ordinal table (1 entry), then the strings. A function address that points inside the
	// export directory's range is a forwarder string.
	const (
		addrTable = exportDirLen
		namePtrs  = addrTable + 4
		ordinals  = namePtrs + 4
		strings   = ordinals + 2
	)
	nameAt := strings
	exportAt := nameAt + len(dllName) + 1
	targetAt := exportAt + len(export) + 1
	sec := make([]byte, targetAt+len(target)+1)
	le := binary.LittleEndian
	le.PutUint32(sec[12:], sectionRVA+uint32(nameAt)) // Name
	le.PutUint32(sec[16:], 1)                         // Base (first ordinal)
	le.PutUint32(sec[20:], 1)                         // NumberOfFunctions
	le.PutUint32(sec[24:], 1)                         // NumberOfNames
	le.PutUint32(sec[28:], sectionRVA+addrTable)      // AddressOfFunctions
	le.PutUint32(sec[32:], sectionRVA+namePtrs)       // AddressOfNames
	le.PutUint32(sec[36:], sectionRVA+ordinals)       // AddressOfNameOrdinals
	le.PutUint32(sec[addrTable:], sectionRVA+uint32(targetAt))
	le.PutUint32(sec[namePtrs:], sectionRVA+uint32(exportAt))
	le.PutUint16(sec[ordinals:], 0)
	copy(sec[nameAt:], dllName)
	copy(sec[exportAt:], export)
	copy(sec[targetAt:], target)

	raw := (len(sec) + fileAlign - 1) &^ (fileAlign - 1)
	img := make([]byte, fileAlign+raw)
	img[0], img[1] = 'M', 'Z'
	le.PutUint32(img[0x3c:], peOffset)
	copy(img[peOffset:], "PE\x00\x00")

	c := img[coffOffset:]
	le.PutUint16(c[0:], machineAMD64)
	le.PutUint16(c[2:], 1) // NumberOfSections
	le.PutUint16(c[16:], optSize)
	le.PutUint16(c[18:], fileExecutableImage|fileLargeAddress|fileDLL)

	o := img[optOffset:]
	le.PutUint16(o[0:], magicPE32Plus)
	le.PutUint32(o[8:], uint32(raw)) // SizeOfInitializedData
	le.PutUint32(o[20:], sectionRVA) // BaseOfCode
	le.PutUint64(o[24:], imageBase)
	le.PutUint32(o[32:], sectionAlign)
	le.PutUint32(o[36:], fileAlign)
	le.PutUint16(o[40:], 6)                                                              // MajorOperatingSystemVersion
	le.PutUint16(o[48:], 6)                                                              // MajorSubsystemVersion
	le.PutUint32(o[56:], sectionRVA+uint32((len(sec)+sectionAlign-1)&^(sectionAlign-1))) // SizeOfImage
	le.PutUint32(o[60:], fileAlign)                                                      // SizeOfHeaders
	le.PutUint16(o[68:], subsystemConsole)
	le.PutUint16(o[70:], dllNXCompat)
	le.PutUint64(o[72:], 0x100000) // SizeOfStackReserve
	le.PutUint64(o[80:], 0x1000)   // SizeOfStackCommit
	le.PutUint64(o[88:], 0x100000) // SizeOfHeapReserve
	le.PutUint64(o[96:], 0x1000)   // SizeOfHeapCommit
	le.PutUint32(o[108:], 16)      // NumberOfRvaAndSizes
	le.PutUint32(o[112:], sectionRVA)
	le.PutUint32(o[116:], uint32(len(sec))) // the export directory's data directory

	s := img[sectionTable:]
	copy(s[0:8], ".edata")
	le.PutUint32(s[8:], uint32(len(sec))) // VirtualSize
	le.PutUint32(s[12:], sectionRVA)      // VirtualAddress
	le.PutUint32(s[16:], uint32(raw))     // SizeOfRawData
	le.PutUint32(s[20:], fileAlign)       // PointerToRawData
	le.PutUint32(s[36:], sectionData|sectionRead)

	copy(img[fileAlign:], sec)
	return img
}
