package syncver

import (
	"crypto/md5"
	"encoding/binary"
)

func md5Uint64(b []byte) uint64 {
	sum := md5.Sum(b)
	return binary.BigEndian.Uint64(sum[:8])
}
