package redis

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// clientLog routes go-redis's internal log lines (dial failures, pool
// events) to the first store's slog.Logger at Warn level instead of
// go-redis's default stderr logger. go-redis has one process-wide logger,
// so it is set once.
var clientLog sync.Once

type slogPrintf struct{ log *slog.Logger }

// Printf implements go-redis's internal.Logging.
func (l slogPrintf) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

func setClientLogger(log *slog.Logger) {
	clientLog.Do(func() { goredis.SetLogger(slogPrintf{log}) })
}
