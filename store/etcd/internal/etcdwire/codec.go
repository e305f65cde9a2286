package etcdwire

import "fmt"

// outMsg and inMsg carry a message's encoder and decoder through grpc-go's
// codec interface.
type outMsg struct{ encode func([]byte) []byte }
type inMsg struct{ decode func([]byte) error }

// codec is the calls' codec (grpc.ForceCodec): the messages encode and
// decode themselves, so no protobuf descriptor is involved. Its name is
// the content subtype, "proto", which etcd's server takes.
type codec struct{}

func (codec) Name() string { return "proto" }

func (codec) Marshal(v any) ([]byte, error) {
	m, ok := v.(outMsg)
	if !ok {
		return nil, fmt.Errorf("etcdwire: cannot marshal %T", v)
	}
	return m.encode(nil), nil
}

func (codec) Unmarshal(data []byte, v any) error {
	m, ok := v.(inMsg)
	if !ok {
		return fmt.Errorf("etcdwire: cannot unmarshal into %T", v)
	}
	// grpc-go reuses data's buffer once Unmarshal returns: the decoders
	// copy what they keep (field.bytes, field.string).
	if err := m.decode(data); err != nil {
		return fmt.Errorf("etcd response: %w", err)
	}
	return nil
}
