package chat

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/imspec/imserver/gen/db"
)

// step is part of a pipeline: it runs sqlc-generated queries (or plain statements) against q.
type step func(q db.DBTX) error

// pipeline sends the statements of several steps in one round trip (a pgx batch: one Sync at the end, so
// after a failed statement the server skips the rest) and hands each generated query its own results, so
// the generated code scans them as usual. Each step runs twice: against a recorder that only queues its
// statements (what it reads then is empty and must be ignored), then against the batch's results. A step
// must run the same statements both times, deciding only from its inputs.
//
// failed is the index of the step whose statement failed, or len(steps) when every step got its results
// and only the end of the batch failed.
func pipeline(ctx context.Context, conn *pgx.Conn, steps ...step) (failed int, err error) {
	rec := &recorder{b: &pgx.Batch{}}
	for _, s := range steps {
		_ = s(rec)
	}
	br := conn.SendBatch(ctx, rec.b)
	rp := replayer{br: br}
	for i, s := range steps {
		if err := s(rp); err != nil {
			_ = br.Close()
			return i, err
		}
	}
	return len(steps), br.Close()
}

// notSent reports whether err, from a pipeline, means nothing of it reached the server.
func notSent(err error) bool {
	var pre pgx.ErrPreprocessingBatch
	return pgconn.SafeToRetry(err) || errors.As(err, &pre)
}

func exec(sql string) step {
	return func(q db.DBTX) error {
		_, err := q.Exec(context.Background(), sql)
		return err
	}
}

// recorder queues statements instead of running them.
type recorder struct{ b *pgx.Batch }

func (r *recorder) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	r.b.Queue(sql, args...)
	return pgconn.CommandTag{}, nil
}

func (r *recorder) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	r.b.Queue(sql, args...)
	return emptyRows{}, nil
}

func (r *recorder) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	r.b.Queue(sql, args...)
	return emptyRows{}
}

func (r *recorder) CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error) {
	return 0, errors.New("COPY cannot be pipelined")
}

// replayer answers each statement with the next result of the batch.
type replayer struct{ br pgx.BatchResults }

func (r replayer) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	return r.br.Exec()
}
func (r replayer) Query(context.Context, string, ...any) (pgx.Rows, error) { return r.br.Query() }
func (r replayer) QueryRow(context.Context, string, ...any) pgx.Row        { return r.br.QueryRow() }
func (r replayer) CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error) {
	return 0, errors.New("COPY cannot be pipelined")
}

// emptyRows is the recorder's answer: no rows.
type emptyRows struct{}

func (emptyRows) Close()                                       {}
func (emptyRows) Err() error                                   { return nil }
func (emptyRows) CommandTag() pgconn.CommandTag                { return pgconn.CommandTag{} }
func (emptyRows) FieldDescriptions() []pgconn.FieldDescription { return nil }
func (emptyRows) Next() bool                                   { return false }
func (emptyRows) Scan(...any) error                            { return nil }
func (emptyRows) Values() ([]any, error)                       { return nil, nil }
func (emptyRows) RawValues() [][]byte                          { return nil }
func (emptyRows) Conn() *pgx.Conn                              { return nil }
func (emptyRows) TypeMap() *pgtype.Map                         { return nil }
