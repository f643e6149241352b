package devnet

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// directConn is a grpc.ClientConnInterface that calls the gateway service
// of this process directly: no HTTP/2 framing, no sockets. Requests and
// responses still cross as marshalled bytes, and errors as gRPC status
// protos, so neither side can observe anything a wire would not carry.
type directConn struct {
	s *gatewayServer
}

var _ grpc.ClientConnInterface = (*directConn)(nil)

// wire copies a message the way a gRPC transport does.
func wire(from, to proto.Message) error {
	raw, err := proto.Marshal(from)
	if err != nil {
		return status.Errorf(codes.Internal, "grpc: error while marshaling: %v", err)
	}
	if err := proto.Unmarshal(raw, to); err != nil {
		return status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: %v", err)
	}
	return nil
}

// wireError is what a client sees of a handler's error.
func wireError(ctx context.Context, err error) error {
	if err == nil {
		if ctx.Err() != nil {
			return status.FromContextError(ctx.Err()).Err()
		}
		return nil
	}
	// A status crosses a wire as its proto: details as Any, nothing else.
	return status.FromProto(status.Convert(err).Proto()).Err()
}

func (c *directConn) Invoke(ctx context.Context, method string, args, reply any, _ ...grpc.CallOption) error {
	in, ok := args.(proto.Message)
	out, ok2 := reply.(proto.Message)
	if !ok || !ok2 {
		return status.Error(codes.Internal, "grpc: messages must be protocol buffers")
	}
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	var resp proto.Message
	var err error
	switch method {
	case gateway.Gateway_Evaluate_FullMethodName:
		req := &gateway.EvaluateRequest{}
		if err := wire(in, req); err != nil {
			return err
		}
		resp, err = c.s.Evaluate(ctx, req)
	case gateway.Gateway_Endorse_FullMethodName:
		req := &gateway.EndorseRequest{}
		if err := wire(in, req); err != nil {
			return err
		}
		resp, err = c.s.Endorse(ctx, req)
	case gateway.Gateway_Submit_FullMethodName:
		req := &gateway.SubmitRequest{}
		if err := wire(in, req); err != nil {
			return err
		}
		resp, err = c.s.Submit(ctx, req)
	case gateway.Gateway_CommitStatus_FullMethodName:
		req := &gateway.SignedCommitStatusRequest{}
		if err := wire(in, req); err != nil {
			return err
		}
		resp, err = c.s.CommitStatus(ctx, req)
	default:
		return status.Errorf(codes.Unimplemented, "unknown method %s for service gateway.Gateway", method)
	}
	if err := wireError(ctx, err); err != nil {
		return err
	}
	return wire(resp, out)
}

func (c *directConn) NewStream(ctx context.Context, _ *grpc.StreamDesc, method string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
	if method != gateway.Gateway_ChaincodeEvents_FullMethodName {
		return nil, status.Errorf(codes.Unimplemented, "unknown method %s for service gateway.Gateway", method)
	}
	ctx, cancel := context.WithCancel(ctx)
	return &directStream{ctx: ctx, cancel: cancel, s: c.s, responses: make(chan []byte, 16), done: make(chan struct{})}, nil
}

// directStream is the client side of a server-streaming call: the request
// is sent once, the handler runs on its own goroutine and its responses
// arrive marshalled.
type directStream struct {
	ctx       context.Context
	cancel    context.CancelFunc
	s         *gatewayServer
	req       *gateway.SignedChaincodeEventsRequest
	responses chan []byte
	done      chan struct{}
	err       error
	once      sync.Once
}

func (d *directStream) Header() (metadata.MD, error) { return metadata.MD{}, nil }
func (d *directStream) Trailer() metadata.MD         { return metadata.MD{} }
func (d *directStream) Context() context.Context     { return d.ctx }

func (d *directStream) SendMsg(m any) error {
	in, ok := m.(proto.Message)
	if !ok || d.req != nil {
		return status.Error(codes.Internal, "grpc: a server-streaming call sends one protocol buffer")
	}
	d.req = &gateway.SignedChaincodeEventsRequest{}
	return wire(in, d.req)
}

func (d *directStream) CloseSend() error {
	d.once.Do(func() {
		go func() {
			err := d.s.ChaincodeEvents(d.req, &directServerStream{d: d})
			d.err = wireError(context.Background(), err)
			close(d.done)
			d.cancel()
		}()
	})
	return nil
}

func (d *directStream) RecvMsg(m any) error {
	out, ok := m.(proto.Message)
	if !ok {
		return status.Error(codes.Internal, "grpc: messages must be protocol buffers")
	}
	select {
	case raw := <-d.responses:
		return proto.Unmarshal(raw, out)
	case <-d.done:
		return d.finished(out)
	case <-d.ctx.Done():
		select {
		case <-d.done: // the handler ended and released the context
			return d.finished(out)
		default:
			return status.FromContextError(d.ctx.Err()).Err()
		}
	}
}

// finished delivers what the handler sent before it returned, then its
// outcome.
func (d *directStream) finished(out proto.Message) error {
	select {
	case raw := <-d.responses:
		return proto.Unmarshal(raw, out)
	default:
	}
	if d.err != nil {
		return d.err
	}
	return io.EOF
}

// directServerStream is the handler's side of a directStream.
type directServerStream struct {
	d *directStream
}

func (s *directServerStream) Send(resp *gateway.ChaincodeEventsResponse) error {
	raw, err := proto.Marshal(resp)
	if err != nil {
		return err
	}
	select {
	case s.d.responses <- raw:
		return nil
	case <-s.d.ctx.Done():
		return status.FromContextError(s.d.ctx.Err()).Err()
	}
}

func (s *directServerStream) SetHeader(metadata.MD) error  { return nil }
func (s *directServerStream) SendHeader(metadata.MD) error { return nil }
func (s *directServerStream) SetTrailer(metadata.MD)       {}
func (s *directServerStream) Context() context.Context     { return s.d.ctx }
func (s *directServerStream) SendMsg(m any) error {
	resp, ok := m.(*gateway.ChaincodeEventsResponse)
	if !ok {
		return errors.New("grpc: unexpected message type")
	}
	return s.Send(resp)
}
func (s *directServerStream) RecvMsg(any) error { return io.EOF }
