package dev.lake.examples.flagship;

import dev.lake.pool.FixedArena;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Lake: messages live in {@link FixedArena} slots on the zero-garbage handle tier. The feed claims a slot,
 * the SBE encoder writes straight into it (through a view bounded to the slot), {@code freezeHandle} makes it
 * read-only, and every reader reaches it through the arena's generation-checked handle. The carrier that
 * crosses the queues is one preallocated {@link Envelope} per slot: its handle never changes while any
 * reference to the slot is live, so the same envelope can sit in several queues at once, and nothing is
 * allocated per message.
 */
final class LakeTransport implements Transport<LakeTransport.Envelope>
{
    private static final int SLOTS = 8192;

    private final FixedArena arena = FixedArena.builder(SLOTS, MarketDataPipeline.MESSAGE_CAPACITY)
        .preFault(true)
        .name("market-data")
        .build();
    private final Envelope[] envelopes = new Envelope[SLOTS];

    LakeTransport()
    {
        for (int i = 0; i < SLOTS; i++)
        {
            envelopes[i] = new Envelope();
        }
    }

    @Override
    public String name()
    {
        return "Lake FixedArena";
    }

    @Override
    public Envelope claim(final int capacity)
    {
        final long handle = arena.tryAllocateHandle();
        if (handle == FixedArena.NO_HANDLE)
        {
            return null;
        }
        final Envelope envelope = envelopes[arena.offset(handle) / arena.slotCapacity()];
        envelope.handle = handle;
        return envelope;
    }

    @Override
    public MutableDirectBuffer writable(final Envelope message, final UnsafeBuffer view)
    {
        view.wrap(arena.uncheckedBuffer(), arena.offset(message.handle), arena.slotCapacity());
        return view;
    }

    @Override
    public Envelope publish(final Envelope message, final int length)
    {
        arena.freezeHandle(message.handle, length);
        return message;
    }

    @Override
    public DirectBuffer readable(final Envelope message, final UnsafeBuffer view)
    {
        final long handle = message.handle;
        view.wrap(arena.uncheckedBuffer(), arena.offset(handle), arena.length(handle));
        return view;
    }

    @Override
    public Envelope share(final Envelope message)
    {
        arena.retain(message.handle);
        return message;
    }

    @Override
    public void release(final Envelope message)
    {
        arena.release(message.handle);
    }

    @Override
    public long outstanding()
    {
        return arena.liveSlots();
    }

    @Override
    public void close()
    {
        arena.close();
    }

    /** The per-slot carrier: written by the feed before publication, read-only while the slot is live. */
    static final class Envelope
    {
        long handle;
    }
}
