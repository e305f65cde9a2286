package etcdwire

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// The messages of etcd's API that the store uses, with the field numbers of
// etcd's api/etcdserverpb/rpc.proto and api/mvccpb/kv.proto. Each encodes
// as protobuf-go does (zero scalars and empty bytes omitted, fields in
// number order with a oneof after them, a oneof member always present), so
// the bytes equal
// proto.Marshal's of etcdserverpb's types (TestEncodingMatchesEtcdserverpb).
// Decoding skips fields it does not know, as a proto decoder does.

// ResponseHeader is etcdserverpb.ResponseHeader.
type ResponseHeader struct {
	ClusterID, MemberID uint64
	Revision            int64
	RaftTerm            uint64
}

// KeyValue is mvccpb.KeyValue.
type KeyValue struct {
	Key                                         []byte
	CreateRevision, ModRevision, Version, Lease int64
	Value                                       []byte
}

// EventType is mvccpb.Event_EventType.
type EventType int32

// Event types.
const (
	EventPut    EventType = 0
	EventDelete EventType = 1
)

// Event is mvccpb.Event.
type Event struct {
	Type   EventType
	Kv     *KeyValue
	PrevKv *KeyValue
}

// IsCreate tells a put that created its key (as clientv3's Event.IsCreate).
func (e *Event) IsCreate() bool {
	return e.Type == EventPut && e.Kv != nil && e.Kv.CreateRevision == e.Kv.ModRevision
}

// RangeRequest is etcdserverpb.RangeRequest (without sorting and the
// min/max revision filters, which the store does not use).
type RangeRequest struct {
	Key, RangeEnd []byte
	Limit         int64
	Revision      int64
	Serializable  bool
	KeysOnly      bool
	CountOnly     bool
}

// RangeResponse is etcdserverpb.RangeResponse.
type RangeResponse struct {
	Header ResponseHeader
	Kvs    []*KeyValue
	More   bool
	Count  int64
}

// PutRequest is etcdserverpb.PutRequest (without leases).
type PutRequest struct {
	Key, Value []byte
	PrevKv     bool
}

// PutResponse is etcdserverpb.PutResponse.
type PutResponse struct {
	Header ResponseHeader
	PrevKv *KeyValue
}

// DeleteRangeRequest is etcdserverpb.DeleteRangeRequest.
type DeleteRangeRequest struct {
	Key, RangeEnd []byte
	PrevKv        bool
}

// DeleteRangeResponse is etcdserverpb.DeleteRangeResponse.
type DeleteRangeResponse struct {
	Header  ResponseHeader
	Deleted int64
	PrevKvs []*KeyValue
}

// Op is etcdserverpb.RequestOp: exactly one of its fields is set.
type Op struct {
	Range  *RangeRequest
	Put    *PutRequest
	Delete *DeleteRangeRequest
}

// OpResponse is etcdserverpb.ResponseOp: the field of its request's kind
// is set.
type OpResponse struct {
	Range  *RangeResponse
	Put    *PutResponse
	Delete *DeleteRangeResponse
}

// CompareResult is etcdserverpb.Compare_CompareResult.
type CompareResult int32

// Compare results.
const (
	Equal    CompareResult = 0
	Greater  CompareResult = 1
	Less     CompareResult = 2
	NotEqual CompareResult = 3
)

// CompareTarget is etcdserverpb.Compare_CompareTarget (of the revision
// targets; the store compares no values or leases).
type CompareTarget int32

// Compare targets.
const (
	TargetVersion CompareTarget = 0
	TargetCreate  CompareTarget = 1
	TargetMod     CompareTarget = 2
)

// Compare is etcdserverpb.Compare of a revision or version: Key's (or,
// with RangeEnd, every key's in [Key, RangeEnd)) Target compared with
// Operand.
type Compare struct {
	Result   CompareResult
	Target   CompareTarget
	Key      []byte
	Operand  int64
	RangeEnd []byte
}

// TxnRequest is etcdserverpb.TxnRequest.
type TxnRequest struct {
	Compare          []Compare
	Success, Failure []Op
}

// TxnResponse is etcdserverpb.TxnResponse.
type TxnResponse struct {
	Header    ResponseHeader
	Succeeded bool
	Responses []OpResponse
}

// CompactionRequest is etcdserverpb.CompactionRequest.
type CompactionRequest struct {
	Revision int64
	Physical bool
}

// CompactionResponse is etcdserverpb.CompactionResponse.
type CompactionResponse struct{ Header ResponseHeader }

// WatchCreateRequest is etcdserverpb.WatchCreateRequest (without filters,
// watch ids and fragmentation).
type WatchCreateRequest struct {
	Key, RangeEnd  []byte
	StartRevision  int64
	ProgressNotify bool
	PrevKv         bool
}

// watchRequest is etcdserverpb.WatchRequest: a create or a progress request.
type watchRequest struct {
	create   *WatchCreateRequest
	progress bool
}

// WatchResponse is etcdserverpb.WatchResponse. Err is not on the wire: the
// last response of a Watch channel carries the error that ended the stream.
type WatchResponse struct {
	Header          ResponseHeader
	WatchID         int64
	Created         bool
	Canceled        bool
	CompactRevision int64
	CancelReason    string
	Fragment        bool
	Events          []*Event

	Err error
}

// IsProgressNotify tells a progress notification (as clientv3's).
func (r *WatchResponse) IsProgressNotify() bool {
	return len(r.Events) == 0 && !r.Canceled && !r.Created && r.CompactRevision == 0 && r.Header.Revision != 0
}

// AuthenticateRequest is etcdserverpb.AuthenticateRequest.
type AuthenticateRequest struct{ Name, Password string }

// AuthenticateResponse is etcdserverpb.AuthenticateResponse.
type AuthenticateResponse struct {
	Header ResponseHeader
	Token  string
}

// --- encoding ---

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendBool(b []byte, num protowire.Number, v bool) []byte {
	if !v {
		return b
	}
	return appendVarint(b, num, 1)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// appendMessage appends a present sub-message (its encoding by enc).
func appendMessage(b []byte, num protowire.Number, enc func([]byte) []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	// Encode after a one-byte length placeholder, then fix the length
	// up, moving the body when its length needs more bytes.
	at := len(b)
	b = append(b, 0)
	b = enc(b)
	n := len(b) - at - 1
	if sz := protowire.SizeVarint(uint64(n)); sz > 1 {
		b = append(b, make([]byte, sz-1)...)
		copy(b[at+sz:], b[at+1:at+1+n])
	}
	protowire.AppendVarint(b[at:at], uint64(n))
	return b
}

func (m *KeyValue) encode(b []byte) []byte {
	b = appendBytes(b, 1, m.Key)
	b = appendVarint(b, 2, uint64(m.CreateRevision))
	b = appendVarint(b, 3, uint64(m.ModRevision))
	b = appendVarint(b, 4, uint64(m.Version))
	b = appendBytes(b, 5, m.Value)
	return appendVarint(b, 6, uint64(m.Lease))
}

func (m *RangeRequest) encode(b []byte) []byte {
	b = appendBytes(b, 1, m.Key)
	b = appendBytes(b, 2, m.RangeEnd)
	b = appendVarint(b, 3, uint64(m.Limit))
	b = appendVarint(b, 4, uint64(m.Revision))
	b = appendBool(b, 7, m.Serializable)
	b = appendBool(b, 8, m.KeysOnly)
	return appendBool(b, 9, m.CountOnly)
}

func (m *PutRequest) encode(b []byte) []byte {
	b = appendBytes(b, 1, m.Key)
	b = appendBytes(b, 2, m.Value)
	return appendBool(b, 4, m.PrevKv)
}

func (m *DeleteRangeRequest) encode(b []byte) []byte {
	b = appendBytes(b, 1, m.Key)
	b = appendBytes(b, 2, m.RangeEnd)
	return appendBool(b, 3, m.PrevKv)
}

func (m *Op) encode(b []byte) []byte {
	switch {
	case m.Range != nil:
		return appendMessage(b, 1, m.Range.encode)
	case m.Put != nil:
		return appendMessage(b, 2, m.Put.encode)
	case m.Delete != nil:
		return appendMessage(b, 3, m.Delete.encode)
	}
	return b
}

func (m *Compare) encode(b []byte) []byte {
	b = appendVarint(b, 1, uint64(m.Result))
	b = appendVarint(b, 2, uint64(m.Target))
	b = appendBytes(b, 3, m.Key)
	b = appendBytes(b, 64, m.RangeEnd)
	// The operand is a oneof member (target_union: version 4,
	// create_revision 5, mod_revision 6): present even when zero, and,
	// as protobuf-go orders a oneof, after the other fields.
	b = protowire.AppendTag(b, protowire.Number(4+m.Target), protowire.VarintType)
	return protowire.AppendVarint(b, uint64(m.Operand))
}

func (m *TxnRequest) encode(b []byte) []byte {
	for i := range m.Compare {
		b = appendMessage(b, 1, m.Compare[i].encode)
	}
	for i := range m.Success {
		b = appendMessage(b, 2, m.Success[i].encode)
	}
	for i := range m.Failure {
		b = appendMessage(b, 3, m.Failure[i].encode)
	}
	return b
}

func (m *CompactionRequest) encode(b []byte) []byte {
	b = appendVarint(b, 1, uint64(m.Revision))
	return appendBool(b, 2, m.Physical)
}

func (m *WatchCreateRequest) encode(b []byte) []byte {
	b = appendBytes(b, 1, m.Key)
	b = appendBytes(b, 2, m.RangeEnd)
	b = appendVarint(b, 3, uint64(m.StartRevision))
	b = appendBool(b, 4, m.ProgressNotify)
	return appendBool(b, 6, m.PrevKv)
}

func (m *watchRequest) encode(b []byte) []byte {
	if m.create != nil {
		return appendMessage(b, 1, m.create.encode)
	}
	if m.progress {
		return appendMessage(b, 3, func(b []byte) []byte { return b })
	}
	return b
}

func (m *AuthenticateRequest) encode(b []byte) []byte {
	b = appendBytes(b, 1, []byte(m.Name))
	return appendBytes(b, 2, []byte(m.Password))
}

// --- decoding ---

// field is one decoded field: its number and wire type, and its value (v
// for varints, b for length-delimited fields).
type field struct {
	num protowire.Number
	typ protowire.Type
	v   uint64
	b   []byte
}

var errWireType = errors.New("wrong wire type")

// walk calls f with each field of b; fields of other wire types than
// varint and bytes are skipped.
func walk(b []byte, f func(field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		fd := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			fd.v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			fd.b, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.VarintType && typ != protowire.BytesType {
			continue
		}
		if err := f(fd); err != nil {
			return fmt.Errorf("field %d: %w", num, err)
		}
	}
	return nil
}

func (f field) int64(dst *int64) error {
	if f.typ != protowire.VarintType {
		return errWireType
	}
	*dst = int64(f.v)
	return nil
}

func (f field) uint64(dst *uint64) error {
	if f.typ != protowire.VarintType {
		return errWireType
	}
	*dst = f.v
	return nil
}

func (f field) bool(dst *bool) error {
	if f.typ != protowire.VarintType {
		return errWireType
	}
	*dst = f.v != 0
	return nil
}

func (f field) bytes(dst *[]byte) error {
	if f.typ != protowire.BytesType {
		return errWireType
	}
	// A copy: a key or value outlives the response's buffer, and
	// holds no other key's bytes.
	*dst = append([]byte(nil), f.b...)
	return nil
}

func (f field) string(dst *string) error {
	if f.typ != protowire.BytesType {
		return errWireType
	}
	*dst = string(f.b)
	return nil
}

// message decodes a sub-message into a new *T with dec.
// header decodes f, an embedded ResponseHeader, into h.
func (f field) header(h *ResponseHeader) error {
	if f.typ != protowire.BytesType {
		return errWireType
	}
	return h.decode(f.b)
}

func message[T any](f field, dec func(*T, []byte) error) (*T, error) {
	if f.typ != protowire.BytesType {
		return nil, errWireType
	}
	m := new(T)
	if err := dec(m, f.b); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *ResponseHeader) decode(b []byte) error {
	*m = ResponseHeader{}
	return walk(b, func(f field) error {
		switch f.num {
		case 1:
			return f.uint64(&m.ClusterID)
		case 2:
			return f.uint64(&m.MemberID)
		case 3:
			return f.int64(&m.Revision)
		case 4:
			return f.uint64(&m.RaftTerm)
		}
		return nil
	})
}

func (m *KeyValue) decode(b []byte) error {
	*m = KeyValue{}
	return walk(b, func(f field) error {
		switch f.num {
		case 1:
			return f.bytes(&m.Key)
		case 2:
			return f.int64(&m.CreateRevision)
		case 3:
			return f.int64(&m.ModRevision)
		case 4:
			return f.int64(&m.Version)
		case 5:
			return f.bytes(&m.Value)
		case 6:
			return f.int64(&m.Lease)
		}
		return nil
	})
}

func (m *Event) decode(b []byte) error {
	*m = Event{}
	return walk(b, func(f field) (err error) {
		switch f.num {
		case 1:
			var v int64
			err = f.int64(&v)
			m.Type = EventType(v)
		case 2:
			m.Kv, err = message(f, (*KeyValue).decode)
		case 3:
			m.PrevKv, err = message(f, (*KeyValue).decode)
		}
		return err
	})
}

func (m *RangeResponse) decode(b []byte) error {
	*m = RangeResponse{}
	return walk(b, func(f field) error {
		switch f.num {
		case 1:
			return f.header(&m.Header)
		case 2:
			kv, err := message(f, (*KeyValue).decode)
			m.Kvs = append(m.Kvs, kv)
			return err
		case 3:
			return f.bool(&m.More)
		case 4:
			return f.int64(&m.Count)
		}
		return nil
	})
}

func (m *PutResponse) decode(b []byte) error {
	*m = PutResponse{}
	return walk(b, func(f field) (err error) {
		switch f.num {
		case 1:
			return f.header(&m.Header)
		case 2:
			m.PrevKv, err = message(f, (*KeyValue).decode)
		}
		return err
	})
}

func (m *DeleteRangeResponse) decode(b []byte) error {
	*m = DeleteRangeResponse{}
	return walk(b, func(f field) error {
		switch f.num {
		case 1:
			return f.header(&m.Header)
		case 2:
			return f.int64(&m.Deleted)
		case 3:
			kv, err := message(f, (*KeyValue).decode)
			m.PrevKvs = append(m.PrevKvs, kv)
			return err
		}
		return nil
	})
}

func (m *OpResponse) decode(b []byte) error {
	*m = OpResponse{}
	return walk(b, func(f field) (err error) {
		switch f.num {
		case 1:
			m.Range, err = message(f, (*RangeResponse).decode)
		case 2:
			m.Put, err = message(f, (*PutResponse).decode)
		case 3:
			m.Delete, err = message(f, (*DeleteRangeResponse).decode)
		}
		return err
	})
}

func (m *TxnResponse) decode(b []byte) error {
	*m = TxnResponse{}
	return walk(b, func(f field) error {
		switch f.num {
		case 1:
			return f.header(&m.Header)
		case 2:
			return f.bool(&m.Succeeded)
		case 3:
			if f.typ != protowire.BytesType {
				return errWireType
			}
			var r OpResponse
			if err := r.decode(f.b); err != nil {
				return err
			}
			m.Responses = append(m.Responses, r)
		}
		return nil
	})
}

func (m *CompactionResponse) decode(b []byte) error {
	*m = CompactionResponse{}
	return walk(b, func(f field) error {
		if f.num == 1 {
			return f.header(&m.Header)
		}
		return nil
	})
}

func (m *WatchResponse) decode(b []byte) error {
	*m = WatchResponse{}
	return walk(b, func(f field) error {
		switch f.num {
		case 1:
			return f.header(&m.Header)
		case 2:
			return f.int64(&m.WatchID)
		case 3:
			return f.bool(&m.Created)
		case 4:
			return f.bool(&m.Canceled)
		case 5:
			return f.int64(&m.CompactRevision)
		case 6:
			return f.string(&m.CancelReason)
		case 7:
			return f.bool(&m.Fragment)
		case 11:
			ev, err := message(f, (*Event).decode)
			m.Events = append(m.Events, ev)
			return err
		}
		return nil
	})
}

func (m *AuthenticateResponse) decode(b []byte) error {
	*m = AuthenticateResponse{}
	return walk(b, func(f field) error {
		switch f.num {
		case 1:
			return f.header(&m.Header)
		case 2:
			return f.string(&m.Token)
		}
		return nil
	})
}
