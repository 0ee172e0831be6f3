package dev.lake.pool;

import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The options every pool arena shares ({@link FixedArena.Builder}, {@link BuddyArena.Builder}): one home for
 * what fresh capacity reads, pre-faulting, auto-spill, leak detection, JFR events, the name and where waiting
 * futures complete. Each setter returns the concrete builder, so calls chain in any order.
 *
 * @param <B> the concrete builder.
 */
public abstract class ArenaBuilder<B extends ArenaBuilder<B>>
{
    /** Numbers the arenas built without a name, so that no two of them share one. */
    private static final AtomicLong UNNAMED = new AtomicLong();

    InitPolicy initPolicy = InitPolicy.UNINIT;
    boolean preFault;
    boolean autoSpill;
    boolean leakDetection = true;
    boolean jfrEvents;
    String name;
    Executor executor;

    ArenaBuilder()
    {
    }

    /**
     * @return this builder, as its concrete type.
     */
    abstract B self();

    /**
     * @param initPolicy what fresh capacity reads ({@link InitPolicy#UNINIT} by default).
     * @return this builder.
     * @throws NullPointerException if {@code initPolicy} is null.
     */
    public final B initPolicy(final InitPolicy initPolicy)
    {
        this.initPolicy = Objects.requireNonNull(initPolicy, "initPolicy");
        return self();
    }

    /**
     * @param preFault whether to touch every page of the region at build, so first writes do not fault.
     * @return this builder.
     */
    public final B preFault(final boolean preFault)
    {
        this.preFault = preFault;
        return self();
    }

    /**
     * @param autoSpill whether a buffer that outgrows its slot or block moves to the heap (and gives the memory
     *                  back at once) instead of throwing.
     * @return this builder.
     */
    public final B autoSpill(final boolean autoSpill)
    {
        this.autoSpill = autoSpill;
        return self();
    }

    /**
     * @param leakDetection whether object-tier allocations are tracked so that buffers and bytes lost without
     *                      release are reclaimed and counted (on by default; costs one phantom reference per
     *                      allocation and no lock). The handle tier is never tracked.
     * @return this builder.
     */
    public final B leakDetection(final boolean leakDetection)
    {
        this.leakDetection = leakDetection;
        return self();
    }

    /**
     * @param jfrEvents whether to publish the arena's metrics as a periodic JFR event (off by default).
     * @return this builder.
     */
    public final B jfrEvents(final boolean jfrEvents)
    {
        this.jfrEvents = jfrEvents;
        return self();
    }

    /**
     * @param executor where futures of {@code allocateAsync} are completed (so where their dependent stages run);
     *                 {@code null} (the default) completes them on the thread that freed the capacity, which is
     *                 cheapest but runs the caller's callbacks there. If the executor rejects or fails a task the
     *                 future is completed on the freeing thread instead.
     * @return this builder.
     */
    public final B completionExecutor(final Executor executor)
    {
        this.executor = executor;
        return self();
    }

    /**
     * @param name a name for messages, metrics and JFR events. Without one, each arena built gets its own,
     *             {@code FixedArena-N} or {@code BuddyArena-N} ({@code N} unique in the process), even when one
     *             builder builds several arenas.
     * @return this builder.
     * @throws NullPointerException if {@code name} is null.
     */
    public final B name(final String name)
    {
        this.name = Objects.requireNonNull(name, "name");
        return self();
    }

    /**
     * @param kind the arena's class name.
     * @return the name set by {@link #name(String)}, or a fresh one unique in the process.
     */
    final String nameOrDefault(final String kind)
    {
        return name != null ? name : kind + "-" + UNNAMED.incrementAndGet();
    }
}
