package etcdwire

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEncodingMatchesEtcdserverpb: every request the client sends encodes
// to the bytes proto.Marshal gives for etcdserverpb's message of the same
// content (field numbers, wire types, oneof presence, zero omission).
func TestEncodingMatchesEtcdserverpb(t *testing.T) {
	long := bytes.Repeat([]byte("v"), 300) // a length past one varint byte
	for _, tc := range []struct {
		name string
		ours []byte
		pb   proto.Message
	}{
		{"range", (&RangeRequest{Key: []byte("/a"), RangeEnd: []byte("/b"), Limit: 1000, Revision: 42}).encode(nil),
			&pb.RangeRequest{Key: []byte("/a"), RangeEnd: []byte("/b"), Limit: 1000, Revision: 42}},
		{"range count-only keys-only serializable", (&RangeRequest{Key: []byte("k"), CountOnly: true, KeysOnly: true, Serializable: true}).encode(nil),
			&pb.RangeRequest{Key: []byte("k"), CountOnly: true, KeysOnly: true, Serializable: true}},
		{"empty range", (&RangeRequest{}).encode(nil), &pb.RangeRequest{}},
		{"negative revision", (&RangeRequest{Key: []byte("k"), Revision: -1}).encode(nil), &pb.RangeRequest{Key: []byte("k"), Revision: -1}},
		{"compaction", (&CompactionRequest{Revision: 1 << 40, Physical: true}).encode(nil), &pb.CompactionRequest{Revision: 1 << 40, Physical: true}},
		{"authenticate", (&AuthenticateRequest{Name: "root", Password: "pw"}).encode(nil), &pb.AuthenticateRequest{Name: "root", Password: "pw"}},
		{"txn", (&TxnRequest{
			Compare: []Compare{
				{Target: TargetCreate, Key: []byte("/o")},                                // create_revision = 0: present though zero
				{Target: TargetCreate, Key: []byte("/kv"), RangeEnd: []byte("/kw")},      // with a range (field 64)
				{Result: Greater, Target: TargetCreate, Key: []byte("/k")},               // > 0
				{Target: TargetMod, Key: []byte("/k"), Operand: 77},                      // mod = 77
				{Result: NotEqual, Target: TargetVersion, Key: []byte("/k"), Operand: 3}, // version != 3
				{Result: Less, Target: TargetMod, Key: []byte("/k"), Operand: 1 << 50},   // large operand
			},
			Success: []Op{
				{Put: &PutRequest{Key: []byte("/k"), Value: long, PrevKv: true}},
				{Put: &PutRequest{Key: []byte("/e")}},
				{Delete: &DeleteRangeRequest{Key: []byte("/k"), RangeEnd: []byte("/l"), PrevKv: true}},
			},
			Failure: []Op{{Range: &RangeRequest{Key: []byte("/k")}}, {Range: &RangeRequest{Key: []byte("/kv"), RangeEnd: []byte("/kw"), CountOnly: true}}},
		}).encode(nil), &pb.TxnRequest{
			Compare: []*pb.Compare{
				{Target: pb.Compare_CREATE, Key: []byte("/o"), TargetUnion: &pb.Compare_CreateRevision{}},
				{Target: pb.Compare_CREATE, Key: []byte("/kv"), RangeEnd: []byte("/kw"), TargetUnion: &pb.Compare_CreateRevision{}},
				{Result: pb.Compare_GREATER, Target: pb.Compare_CREATE, Key: []byte("/k"), TargetUnion: &pb.Compare_CreateRevision{}},
				{Target: pb.Compare_MOD, Key: []byte("/k"), TargetUnion: &pb.Compare_ModRevision{ModRevision: 77}},
				{Result: pb.Compare_NOT_EQUAL, Target: pb.Compare_VERSION, Key: []byte("/k"), TargetUnion: &pb.Compare_Version{Version: 3}},
				{Result: pb.Compare_LESS, Target: pb.Compare_MOD, Key: []byte("/k"), TargetUnion: &pb.Compare_ModRevision{ModRevision: 1 << 50}},
			},
			Success: []*pb.RequestOp{
				{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("/k"), Value: long, PrevKv: true}}},
				{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("/e")}}},
				{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: []byte("/k"), RangeEnd: []byte("/l"), PrevKv: true}}},
			},
			Failure: []*pb.RequestOp{
				{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("/k")}}},
				{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("/kv"), RangeEnd: []byte("/kw"), CountOnly: true}}},
			},
		}},
		{"watch create", (&watchRequest{create: &WatchCreateRequest{Key: []byte("/kv/"), RangeEnd: []byte("/kv0"), StartRevision: 9, ProgressNotify: true, PrevKv: true}}).encode(nil),
			&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{
				Key: []byte("/kv/"), RangeEnd: []byte("/kv0"), StartRevision: 9, ProgressNotify: true, PrevKv: true}}}},
		{"watch progress", (&watchRequest{progress: true}).encode(nil),
			&pb.WatchRequest{RequestUnion: &pb.WatchRequest_ProgressRequest{ProgressRequest: &pb.WatchProgressRequest{}}}},
	} {
		if want := marshal(t, tc.pb); !bytes.Equal(tc.ours, want) {
			t.Errorf("%s: encoded\n%x\nproto.Marshal of etcdserverpb's:\n%x", tc.name, tc.ours, want)
		}
	}
}

func kvOf(m *mvccpb.KeyValue) *KeyValue {
	if m == nil {
		return nil
	}
	return &KeyValue{Key: m.Key, CreateRevision: m.CreateRevision, ModRevision: m.ModRevision, Version: m.Version, Value: m.Value, Lease: m.Lease}
}

// TestDecodingMatchesEtcdserverpb: responses marshalled from etcdserverpb's
// types decode to the same content.
func TestDecodingMatchesEtcdserverpb(t *testing.T) {
	hdr := &pb.ResponseHeader{ClusterId: 1 << 63, MemberId: 7, Revision: 1234567, RaftTerm: 3}
	wantHdr := ResponseHeader{ClusterID: 1 << 63, MemberID: 7, Revision: 1234567, RaftTerm: 3}
	a := &mvccpb.KeyValue{Key: []byte("/kv/a"), CreateRevision: 5, ModRevision: 9, Version: 2, Value: bytes.Repeat([]byte{0, 0xff}, 200), Lease: 12}
	b := &mvccpb.KeyValue{Key: []byte("/kv/b"), CreateRevision: 6, ModRevision: 6, Version: 1}

	var rr RangeResponse
	if err := rr.decode(marshal(t, &pb.RangeResponse{Header: hdr, Kvs: []*mvccpb.KeyValue{a, b}, More: true, Count: 2})); err != nil {
		t.Fatal(err)
	}
	if want := (RangeResponse{Header: wantHdr, Kvs: []*KeyValue{kvOf(a), kvOf(b)}, More: true, Count: 2}); !reflect.DeepEqual(rr, want) {
		t.Errorf("range response %+v, want %+v", rr, want)
	}

	var tr TxnResponse
	if err := tr.decode(marshal(t, &pb.TxnResponse{Header: hdr, Succeeded: true, Responses: []*pb.ResponseOp{
		{Response: &pb.ResponseOp_ResponsePut{ResponsePut: &pb.PutResponse{Header: hdr, PrevKv: a}}},
		{Response: &pb.ResponseOp_ResponseDeleteRange{ResponseDeleteRange: &pb.DeleteRangeResponse{Header: hdr, Deleted: 2, PrevKvs: []*mvccpb.KeyValue{a, b}}}},
		{Response: &pb.ResponseOp_ResponseRange{ResponseRange: &pb.RangeResponse{Header: hdr, Count: 5}}},
		{Response: &pb.ResponseOp_ResponseTxn{ResponseTxn: &pb.TxnResponse{Header: hdr}}}, // a nested txn: skipped
	}})); err != nil {
		t.Fatal(err)
	}
	wantTxn := TxnResponse{Header: wantHdr, Succeeded: true, Responses: []OpResponse{
		{Put: &PutResponse{Header: wantHdr, PrevKv: kvOf(a)}},
		{Delete: &DeleteRangeResponse{Header: wantHdr, Deleted: 2, PrevKvs: []*KeyValue{kvOf(a), kvOf(b)}}},
		{Range: &RangeResponse{Header: wantHdr, Count: 5}},
		{},
	}}
	if !reflect.DeepEqual(tr, wantTxn) {
		t.Errorf("txn response %+v, want %+v", tr, wantTxn)
	}

	var wr WatchResponse
	if err := wr.decode(marshal(t, &pb.WatchResponse{Header: hdr, WatchId: -1, Created: true, Canceled: true, CompactRevision: 99, CancelReason: "why", Fragment: true,
		Events: []*mvccpb.Event{{Type: mvccpb.Event_PUT, Kv: a}, {Type: mvccpb.Event_DELETE, Kv: b, PrevKv: a}}})); err != nil {
		t.Fatal(err)
	}
	wantWatch := WatchResponse{Header: wantHdr, WatchID: -1, Created: true, Canceled: true, CompactRevision: 99, CancelReason: "why", Fragment: true,
		Events: []*Event{{Type: EventPut, Kv: kvOf(a)}, {Type: EventDelete, Kv: kvOf(b), PrevKv: kvOf(a)}}}
	if !reflect.DeepEqual(wr, wantWatch) {
		t.Errorf("watch response %+v, want %+v", wr, wantWatch)
	}

	var ar AuthenticateResponse
	if err := ar.decode(marshal(t, &pb.AuthenticateResponse{Header: hdr, Token: "tok.1"})); err != nil || ar != (AuthenticateResponse{Header: wantHdr, Token: "tok.1"}) {
		t.Errorf("authenticate response %+v, %v", ar, err)
	}
	var cr CompactionResponse
	if err := cr.decode(marshal(t, &pb.CompactionResponse{Header: hdr})); err != nil || cr.Header != wantHdr {
		t.Errorf("compaction response %+v, %v", cr, err)
	}
}

// TestDecodeBadInput: truncated or mistyped messages are errors naming the
// field, never a panic; unknown fields are skipped.
func TestDecodeBadInput(t *testing.T) {
	good := marshal(t, &pb.RangeResponse{Header: &pb.ResponseHeader{Revision: 5}, Kvs: []*mvccpb.KeyValue{{Key: []byte("/k"), Value: []byte("v")}}})
	for i := 1; i < len(good); i++ {
		var r RangeResponse
		_ = r.decode(good[:i]) // no panic; a cut may still be a valid prefix
	}
	var r RangeResponse
	if err := r.decode([]byte{0x10, 0x02, 0x01}); err == nil || !strings.Contains(err.Error(), "field 2") { // kvs as a varint
		t.Errorf("kvs as a varint: %v", err)
	}
	if err := r.decode([]byte{0x0a, 0x05, 0x01}); err == nil { // header longer than the message
		t.Error("truncated header decoded")
	}
	// Unknown fields of every wire type (varint 100, fixed64 101, bytes
	// 102, fixed32 103) are skipped.
	unknown := []byte{0xa0, 0x06, 0x01, 0xa9, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0xb2, 0x06, 0x01, 0x00, 0xbd, 0x06, 0, 0, 0, 0}
	if err := r.decode(append(unknown, good...)); err != nil || r.Header.Revision != 5 || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "v" {
		t.Errorf("with unknown fields: %+v, %v", r, err)
	}
}
