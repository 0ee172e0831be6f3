package dev.lake.pool;

import jdk.jfr.consumer.RecordingStream;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

class JfrEventTest
{
    @Test
    void periodicEventsPublishTheMetricsOnlyForArenasThatOptIn()
    {
        final AtomicLong allocations = new AtomicLong(-1);
        final AtomicLong live = new AtomicLong(-1);
        final AtomicLong frees = new AtomicLong(-1);
        final ConcurrentHashMap<String, Boolean> seen = new ConcurrentHashMap<>();
        try (FixedArena watched = FixedArena.builder(8, 64).name("jfr-watched").jfrEvents(true).build();
            FixedArena quiet = FixedArena.builder(8, 64).name("jfr-quiet").build();
            RecordingStream stream = new RecordingStream())
        {
            stream.enable(FixedArenaMetricsEvent.NAME).withPeriod(Duration.ofMillis(50));
            stream.onEvent(FixedArenaMetricsEvent.NAME, event ->
            {
                final String arena = event.getString("arena");
                seen.put(arena, Boolean.TRUE);
                if ("jfr-watched".equals(arena))
                {
                    allocations.set(event.getLong("allocations"));
                    live.set(event.getInt("liveSlots"));
                    frees.set(event.getLong("frees")); // a field of the base event both arenas share
                }
            });
            stream.startAsync();
            final Bytes kept = watched.allocate().putLong(1).freeze();
            watched.allocate().close();
            watched.allocate().freeze().release();
            quiet.allocate().close();
            await().atMost(Duration.ofSeconds(20)).until(() -> allocations.get() == 3 && live.get() == 1 && frees.get() == 2);
            kept.release();
            assertNull(seen.get("jfr-quiet"), "an arena without jfrEvents(true) publishes nothing");
        }
    }
}
