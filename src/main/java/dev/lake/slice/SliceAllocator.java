package dev.lake.slice;

import dev.lake.memory.Memory;
import dev.lake.memory.NativeMemory;
import dev.lake.memory.Region;
import dev.lake.memory.StaleHandleException;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Cuts many small, variable-length slices out of off-heap chunks and hands them out behind cheap shared
 * handles: the seed's {@code arena-arc} {@code Allocator<T, L, N>}. A chunk is freed exactly when the last
 * reference into it goes: the allocator's own (while the chunk is current) and one per live slice.
 *
 * <h2>Two tiers</h2>
 * <ul>
 *     <li>Handle tier: {@code allocate*} return a {@link SharedSlice} or {@link SharedSingle}, one small object
 *     that checks on every access that it is still live and in bounds; {@link SharedHandle#share()} hands a
 *     second owner its own handle. Leaks are caught per chunk by the cleaner at no cost per handle.</li>
 *     <li>Primitive tier: {@code allocate*Ref} return a {@code long} reference (chunk slot, generation,
 *     offset) and allocate no Java object; read with {@link #getLong(long, int)} and friends, share with
 *     {@link #retain(long)}, drop with {@link #release(long)}. A reference whose chunk was freed or reset is
 *     refused by a generation check, one whose slice was released by its header count. The trade-off: a
 *     reference is not an identity, so a double {@code release} by one holder takes another holder's count
 *     (detected only when the count reaches zero), and a leaked reference pins its chunk until the allocator
 *     itself becomes unreachable (then the cleaner frees it and counts the leak). See docs/slices.md.
 *     To read a reference fast without garbage, bind a reusable {@link SliceReader} to it: it validates once,
 *     holds a count while bound, and then reads with one compare per element; {@link #getLongs} and
 *     {@link #getBytes} copy a range after one validation.</li>
 *     <li>Local slices: {@link #allocateLocalLongs} and its siblings allocate a slice that never leaves the
 *     allocating thread straight into a {@link SliceReader}; closing the reader on that thread releases it
 *     without any atomic instruction and, when it was the last slice allocated, gives its bytes back to the
 *     chunk. No reference to it exists, so nothing else can touch it.</li>
 * </ul>
 *
 * <h2>Placement (as the seed)</h2>
 * A slice goes into the current chunk when it fits. A request larger than the chunk capacity gets a dedicated
 * chunk of exactly its size and the current chunk stays current. Otherwise, when no live slice uses the current
 * chunk it is reset and reused in place (an improvement over the seed: no free and malloc, so a steady
 * allocate-release loop never touches the operating system); else a new chunk is started and whichever of the
 * two has more room stays current; the other's tail is abandoned and counted as wasted until that chunk is freed.
 * Each slice carries an 8-byte header (its length and its handle count) before its data, which starts aligned to
 * {@code max(8, layout.alignment())}.
 *
 * <h2>Limits</h2>
 * Offsets and lengths are {@code int}s (the seed's index type {@code L = u32}): a chunk is at most
 * {@link Region#MAX_SIZE} bytes and a slice's {@code length * stride} plus its header must fit in one; larger
 * requests throw {@link IllegalArgumentException} naming the value. The primitive tier adds: at most
 * {@value #MAX_PINNED_CHUNKS} chunks holding references at once; a table slot serves 65,535 reuses of its
 * chunk and is then retired rather than let its generation wrap (which would revive released references).
 *
 * <h2>Threads</h2>
 * Allocating (every {@code allocate*}, {@link #bindToCurrentThread()}, {@link #close()} and the release of a local
 * slice) is confined to one thread, bound by the first allocation; in strict mode (the default, one thread
 * comparison per call) another thread gets an {@link IllegalStateException}. Handles, references and
 * {@link #stats()} may be used from any thread.
 *
 * <h2>Costs</h2>
 * Allocation is O(length) for the initializer plus O(1): a bump and a header write; one slice in 1,024 also pays
 * one atomic add on the chunk's count (the allocator takes spare references in batches); a new chunk costs one
 * native allocation and a cleaner registration. Release is O(1): for a shared slice at most three CASes (the
 * handle's, the slice's count, the chunk's count) and a stats update that is an adder increment on other threads
 * and a plain store on the allocating thread; for a local slice in the current chunk no atomic instruction.
 * Accessors are O(1) with no allocation. Benchmarks: {@code dev.lake.bench.SliceBench}.
 */
public final class SliceAllocator implements AutoCloseable
{
    /** Default chunk size in bytes when {@link Builder#chunkCapacity(int)} is not given: 64 KiB of elements. */
    public static final int DEFAULT_CHUNK_BYTES = 64 * 1024;

    /** The primitive-tier reference of every empty slice: length 0, owns no chunk, retain and release do nothing. */
    public static final long EMPTY_REF = 0L;

    /** How many chunks the primitive tier can track at once (20 bits of a reference). */
    public static final int MAX_PINNED_CHUNKS = 1 << 20;

    /** Bytes of the header before each slice's data: {@code [int length][int references]}. */
    static final int HEADER = 8;

    private static final int GENERATION_SHIFT = 48;
    private static final int GENERATION_MASK = 0xFFFF;
    private static final AtomicInteger GENERATION_SEEDS = new AtomicInteger();
    private static final int SLOT_SHIFT = 28;
    private static final int SLOT_MASK = MAX_PINNED_CHUNKS - 1;
    private static final int OFFSET_MASK = (1 << SLOT_SHIFT) - 1;
    private static final byte[] EMPTY = new byte[0];
    private static final boolean LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    /**
     * Spare references the allocator takes on its current chunk in one atomic add and then hands to new slices
     * with a plain decrement: allocation costs no atomic instruction for 1,023 slices in 1,024.
     */
    private static final int CREDIT_BATCH = 1024;

    /**
     * The count in the header of a local slice (see {@link #allocateLocalLongs}): not positive, so that every count
     * operation through a reference ({@link #retain}, {@link #release}, {@link #getLong(long, int)}...) refuses it
     * without writing; only its reader releases it. The leak walk counts it as a live slice.
     */
    static final int LOCAL_COUNT = Integer.MIN_VALUE;

    /** What an allocation hands out: a handle, a primitive reference (its chunk is pinned), or a local slice. */
    private static final int HANDLE = 0;
    private static final int REF = 1;
    private static final int LOCAL = 2;

    private static final VarHandle LOCAL_OPEN;
    private static final VarHandle OWNER;
    private static final VarHandle CLOSED;

    static
    {
        try
        {
            LOCAL_OPEN = MethodHandles.lookup().findVarHandle(SliceAllocator.class, "localOpen", int.class);
            OWNER = MethodHandles.lookup().findVarHandle(SliceAllocator.class, "owner", Thread.class);
            CLOSED = MethodHandles.lookup().findVarHandle(SliceAllocator.class, "closed", boolean.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    private static final int IN_CURRENT = 0;
    private static final int RESET_CURRENT = 1;
    private static final int DEDICATED = 2;
    private static final int FRESH = 3;

    private final ElementLayout layout;
    private final int stride;
    private final int dataAlign;
    private final int chunkCapacity;
    private final int chunkBytes;
    private final boolean strict;
    private final SliceCounters counters = new SliceCounters();
    private final SlotPool slotPool = new SlotPool();
    // Where this allocator's slots start counting generations: spread over allocators, so that a reference given
    // to the wrong allocator matches one of its chunks only by a 16-bit coincidence, not always (every
    // allocator's first reference would otherwise be slot 0, generation 1).
    private final int generationSeed = (GENERATION_SEEDS.getAndIncrement() * 0x9E3B) & 0x7FFF;
    // The last generation a slot may take: its generations run from the seed's next, past 65,535 to 1, up to the seed
    // itself (all 65,535 values once each); the next would be its first again and revive references released long
    // ago, so the slot is retired there. Retired at 65,535 instead, a slot lasted 65,535 - seed reuses, not 65,535.
    private final int lastGeneration = generationSeed == 0 ? GENERATION_MASK : generationSeed;
    private final UnsafeBuffer window = new UnsafeBuffer(EMPTY);

    private Chunk[] slots = new Chunk[16];
    private int nextSlot;
    private Chunk current;
    /** The reader of the local allocation in progress on the general path (checked by {@link #finish}). */
    private SliceReader localReader;
    /** Spare references held on {@link #current} beyond the allocator's own, for new slices there. */
    private int credit;
    private Thread owner;
    /**
     * Strict mode: the owner was claimed by a first allocation call that has not allocated yet. A call that then
     * fails (its initializer or source threw) gives the claim back, so that a failure changes nothing, not even who
     * may allocate. Cleared by an explicit {@link #bindToCurrentThread()}; read on the failure path only.
     */
    private boolean claimUnconfirmed;
    private boolean allocating;
    private boolean closed;
    /** Where the allocation in progress goes, and how: set by begin, cleared by finish or abort. */
    private Chunk target;
    private int targetKind;
    /**
     * The chunk the last pin was made for, and the slices allocated when it was made: an allocation that pinned its
     * chunk and then failed, with no slice allocated since, handed out no reference in the pin's generation, so
     * {@link #abort} takes the pin back (see {@link #unpinUnused}). Written on the cold paths only.
     */
    private Chunk pinnedFor;
    private long pinnedAtSlice;
    /** The generation of the last pin's table slot before the pin: given back to the slot with the pin. */
    private int pinnedFromGeneration;
    /** Where a local slice placed by the allocation in progress began (its offset goes back there when it is freed). */
    private int targetStart;
    /**
     * Local slices allocated and not yet released: written by the allocating thread only, the decrement with release
     * semantics so that a handover that reads it (acquire) sees every change their release made.
     */
    @SuppressWarnings("unused") // also through LOCAL_OPEN
    private int localOpen;

    private SliceAllocator(final Builder builder)
    {
        this.layout = builder.layout;
        this.stride = layout.stride();
        this.dataAlign = Math.max(HEADER, layout.alignment());
        this.chunkCapacity = builder.chunkCapacity;
        this.chunkBytes = builder.chunkBytes;
        this.strict = builder.strict;
        // Links the local release's last step (a store of the count it already holds: no change) before any chunk
        // exists. The first call of a call site in the JVM links it, which allocates on the heap: the first local
        // release in a JVM on a full heap threw OutOfMemoryError there with the slice already given back and its
        // reader still bound, so the count stayed one too high for good and a retry released the slice again.
        LOCAL_OPEN.setRelease(this, 0);
        this.current = newChunk(chunkBytes);
    }

    /**
     * Starts a builder.
     *
     * @param layout what one element is: {@link ElementLayout#LONG}, {@link ElementLayout#record(int, int)}...
     * @return a builder with a 64 KiB chunk capacity and strict thread checks.
     * @throws NullPointerException if {@code layout} is null.
     */
    public static Builder builder(final ElementLayout layout)
    {
        return new Builder(layout);
    }

    /**
     * @return the element layout of every slice.
     */
    public ElementLayout layout()
    {
        return layout;
    }

    /**
     * @return elements that fit in one default chunk: the seed's {@code N}.
     */
    public int chunkCapacity()
    {
        return chunkCapacity;
    }

    /**
     * @return bytes of one default chunk: room for {@link #chunkCapacity()} elements and one slice header.
     */
    public int chunkBytes()
    {
        return chunkBytes;
    }

    /**
     * @return a snapshot of chunks, reserved bytes, live slice bytes and wasted tails. Any thread; not O(1):
     *         it sums the release counters (a {@code LongAdder}'s cells and one cell per thread that has owned the
     *         allocator), up to a few times while the owner allocates; no allocation beyond the record.
     */
    public SliceStats stats()
    {
        return counters.snapshot();
    }

    /**
     * Safe from any thread, also polled in a loop: a thread waiting for the allocating thread's close sees it.
     *
     * @return whether {@link #close()} was called.
     */
    public boolean isClosed()
    {
        // opaque: a thread polling this for another thread's close must see it (a plain read was hoisted out of the
        // caller's loop by the JIT, as isReleased() was); the allocation paths keep their plain read
        return (boolean)CLOSED.getOpaque(this);
    }

    /**
     * Makes the calling thread the allocating thread, for handing the allocator over. The caller must make the
     * previous owner's work visible (hand the allocator over through a queue, a lock or a volatile).
     *
     * <p>Local slices ({@link #allocateLocalLongs}) are part of the allocating thread's work: they are released on
     * that thread without any atomic instruction, into state that the new owner takes over. So the allocator is not
     * handed over while the previous owner, still alive, holds local slices: close their readers first (a previous
     * owner that has terminated can no longer race, and its readers may then be closed by the new owner).
     *
     * @throws IllegalStateException if an allocation is in progress (called from an initializer), or another live
     *                               thread owns the allocator and still holds local slices (nothing changes).
     */
    public void bindToCurrentThread()
    {
        if (allocating)
        {
            throw new IllegalStateException("cannot rebind a SliceAllocator from inside an initializer");
        }
        final Thread caller = Thread.currentThread();
        final Thread previous = owner;
        // Acquire: a count of 0 read here was written by the previous owner's last local release, after every
        // change that release made (credit, offset, stats), so this thread sees them all.
        final int open = (int)LOCAL_OPEN.getAcquire(this);
        if (previous != null && previous != caller && open != 0 && previous.isAlive())
        {
            throw new IllegalStateException("SliceAllocator is confined to " + previous.getName() + ", which holds " +
                open + " local slice(s): close their readers on that thread before handing the allocator over " +
                "(a reader dropped without close() keeps the count for as long as that thread lives: a leak)");
        }
        bindOwner(caller);
    }

    /**
     * Binds a strict allocator nobody has bound yet to {@code caller}, with one CAS: two threads making the first
     * allocation at once (or one allocating while another closes) both saw no owner with a plain check-then-set, both
     * bound themselves and both went on into the same chunk at once. Off the fast path: only while the caller is not
     * the owner.
     *
     * @return whether {@code caller} owns the allocator now.
     */
    private boolean claimOwner(final Thread caller)
    {
        if (owner == null && OWNER.compareAndSet(this, (Thread)null, caller))
        {
            try
            {
                counters.bindOwner(caller); // the caller's counter cell, from the heap; changes nothing if refused
            }
            catch (final Throwable refused)
            {
                // a full heap (or the stack's edge) refused the cell: the claim goes back, or the allocator stayed
                // bound to a thread whose first call allocated nothing (NineteenthReviewSliceTest)
                dropClaim();
                throw refused;
            }
            claimUnconfirmed = true;
            return true;
        }
        return (Thread)OWNER.getVolatile(this) == caller;
    }

    /**
     * {@link #claimOwner} for {@link #close()}: the same CAS, without giving the closer a counter cell (which comes
     * from the heap: on a full heap the close failed with an {@code OutOfMemoryError} after the CAS, the allocator
     * stayed open and bound to the closer, and once dropped its chunk went to the safety net as a leak). A closed
     * allocator allocates no more; releases on the closer's thread count through the shared adder.
     *
     * @return whether {@code caller} owns the allocator now.
     */
    private boolean claimOwnerToClose(final Thread caller)
    {
        return OWNER.compareAndSet(this, (Thread)null, caller) || (Thread)OWNER.getVolatile(this) == caller;
    }

    private void bindOwner(final Thread thread)
    {
        claimUnconfirmed = false;
        owner = thread;
        counters.bindOwner(thread);
    }

    /**
     * Drops the allocator's reference to its current chunk (freed now if no slice uses it) and refuses further
     * allocation. Handles and references already handed out stay valid until released, and so do local slices
     * until their readers close. Idempotent: closing a closed allocator does nothing, from any thread, and of closes
     * racing each other (possible without strict checks) exactly one gives the allocator's references back (one CAS,
     * on this cold path only). Allocates nothing on the heap, so a full heap does not make it fail.
     *
     * @throws IllegalStateException (nothing changes) if called from inside an initializer, or, in strict mode, from
     *                               a thread other than the allocating one (a strict allocator nobody has bound yet
     *                               is bound to the closer, like a first allocation).
     */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        if (allocating)
        {
            throw new IllegalStateException("cannot close a SliceAllocator from inside an initializer");
        }
        // a strict allocator that nobody has bound yet is bound by its closer, with the same CAS as a first
        // allocation: a thread racing its first allocation against this close is then refused, instead of
        // allocating into the chunk this close frees
        if (strict && owner != Thread.currentThread() && !claimOwnerToClose(Thread.currentThread()))
        {
            // the allocating thread may be handing out the spare references close() would give back
            throw new IllegalStateException(this + " is confined to " + owner.getName() + ": cannot close it from " +
                Thread.currentThread().getName());
        }
        if (!CLOSED.compareAndSet(this, false, true))
        {
            // A close racing this one won (possible without strict checks, where any thread may close): it gives
            // the references back. Both giving them back took references that live slices still hold, and freed
            // the chunk under them, or threw out of this idempotent call.
            return;
        }
        final Chunk c = current;
        current = null;
        final int spare = credit;
        credit = 0;
        // its tail is abandoned as a chunk switch abandons one: counted before the chunk can be freed (which
        // subtracts it), so that live slices keeping it leave no bytes counted as nothing
        final ChunkMemory m = c.memory;
        final int room = m.capacity - m.offset;
        counters.wasted(room);
        m.wasted = room;
        c.releaseReferences(1 + spare);
    }

    // ------------------------------------------------------------------------------------------------ handle tier

    /**
     * Allocates a slice of {@code length} longs, element {@code i} set to {@code init.value(i)}.
     *
     * @param length number of elements, 0 or more; 0 returns an empty slice owning no chunk.
     * @param init   computes each element; if it throws, nothing is allocated and the exception propagates.
     * @return the handle.
     * @throws IllegalStateException    if the layout is not {@link ElementLayout#LONG}, the allocator is closed, or
     *                                  (strict) the caller is not the allocating thread.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public SharedSlice allocateLongs(final int length, final LongInit init)
    {
        final int data = fillLongs(length, init, HANDLE);
        return handle(data, length);
    }

    /**
     * Allocates a slice of {@code length} ints, element {@code i} set to {@code init.value(i)}.
     *
     * @param length number of elements, 0 or more; 0 returns an empty slice owning no chunk.
     * @param init   computes each element; if it throws, nothing is allocated and the exception propagates.
     * @return the handle.
     * @throws IllegalStateException    if the layout is not {@link ElementLayout#INT}, the allocator is closed, or
     *                                  (strict) the caller is not the allocating thread.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public SharedSlice allocateInts(final int length, final IntInit init)
    {
        final int data = fillInts(length, init, HANDLE);
        return handle(data, length);
    }

    /**
     * Allocates a slice of {@code length} doubles, element {@code i} set to {@code init.value(i)}.
     *
     * @param length number of elements, 0 or more; 0 returns an empty slice owning no chunk.
     * @param init   computes each element; if it throws, nothing is allocated and the exception propagates.
     * @return the handle.
     * @throws IllegalStateException    if the layout is not {@link ElementLayout#DOUBLE}, the allocator is closed,
     *                                  or (strict) the caller is not the allocating thread.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public SharedSlice allocateDoubles(final int length, final DoubleInit init)
    {
        final int data = fillDoubles(length, init, HANDLE);
        return handle(data, length);
    }

    /**
     * Allocates a slice of {@code length} bytes, element {@code i} set to {@code init.value(i)}.
     *
     * @param length number of elements, 0 or more; 0 returns an empty slice owning no chunk.
     * @param init   computes each element; if it throws, nothing is allocated and the exception propagates.
     * @return the handle.
     * @throws IllegalStateException    if the layout is not {@link ElementLayout#BYTE}, the allocator is closed, or
     *                                  (strict) the caller is not the allocating thread.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public SharedSlice allocateBytes(final int length, final ByteInit init)
    {
        final int data = fillBytes(length, init, HANDLE);
        return handle(data, length);
    }

    /**
     * Allocates a slice of {@code length} elements of any layout, each written in place by {@code init} (the
     * seed's {@code alloc(len, init)}; for records, wrap an encoder at the given offset).
     *
     * @param length number of elements, 0 or more; 0 returns an empty slice owning no chunk.
     * @param init   writes each element; if it throws, nothing is allocated and the exception propagates.
     * @return the handle.
     * @throws IllegalStateException    if the allocator is closed or (strict) the caller is not the allocating thread.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public SharedSlice allocate(final int length, final ElementInit init)
    {
        final int data = fillElements(length, init, HANDLE);
        return handle(data, length);
    }

    /**
     * The seed's {@code try_alloc}: like {@link #allocate(int, ElementInit)} with an initializer that may fail.
     * When it throws, the chunk's offset is not advanced, a chunk started for this request is freed, the stats
     * are unchanged, and the exception propagates.
     *
     * @param length number of elements, 0 or more.
     * @param init   writes each element or throws.
     * @param <X>    the initializer's exception.
     * @return the handle.
     * @throws X                        what the initializer threw.
     * @throws IllegalStateException    if the allocator is closed or (strict) the caller is not the allocating thread.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public <X extends Exception> SharedSlice tryAllocate(final int length, final FallibleInit<X> init) throws X
    {
        final int data = tryFill(length, init, HANDLE);
        return handle(data, length);
    }

    /**
     * {@link #tryAllocate(int, FallibleInit)} for a {@link ElementLayout#LONG} allocator, by value.
     *
     * @param length number of elements, 0 or more.
     * @param init   computes each element or throws.
     * @param <X>    the initializer's exception.
     * @return the handle.
     * @throws X                        what the initializer threw; nothing was allocated.
     * @throws IllegalStateException    if the layout is not {@link ElementLayout#LONG}, the allocator is closed, or
     *                                  (strict) the caller is not the allocating thread.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public <X extends Exception> SharedSlice tryAllocateLongs(final int length, final FallibleLongInit<X> init)
        throws X
    {
        final int data = tryFillLongs(length, init, HANDLE);
        return handle(data, length);
    }

    /**
     * The seed's {@code alloc_single}: one element written in place.
     *
     * @param init writes the element (index 0); if it throws, nothing is allocated and the exception propagates.
     * @return the single-element handle.
     * @throws IllegalStateException if the allocator is closed or (strict) the caller is not the allocating thread.
     */
    public SharedSingle allocateSingle(final ElementInit init)
    {
        final int data = fillElements(1, init, HANDLE);
        return single(data);
    }

    /**
     * The seed's {@code alloc_value} for a {@link ElementLayout#LONG} allocator.
     *
     * @param value the element.
     * @return the single-element handle.
     * @throws IllegalStateException if the layout is not LONG (write {@code 5L}, not {@code 5}), the allocator is
     *                               closed, or (strict) the caller is not the allocating thread.
     */
    public SharedSingle allocateValue(final long value)
    {
        requireLayout(ElementLayout.LONG, "allocateValue(long)");
        checkUsable();
        final int data = begin(1, Long.BYTES, HANDLE);
        allocating = false; // no initializer runs here; before any call: see finish()
        Memory.putLong(target.memory.address + data, value);
        finish(1, data, Long.BYTES, HANDLE);
        return single(data);
    }

    /**
     * The seed's {@code alloc_value} for a {@link ElementLayout#DOUBLE} allocator.
     *
     * @param value the element.
     * @return the single-element handle.
     * @throws IllegalStateException if the layout is not DOUBLE, the allocator is closed, or (strict) the caller is
     *                               not the allocating thread.
     */
    public SharedSingle allocateValue(final double value)
    {
        requireLayout(ElementLayout.DOUBLE, "allocateValue(double)");
        checkUsable();
        final int data = begin(1, Double.BYTES, HANDLE);
        allocating = false; // no initializer runs here; before any call: see finish()
        Memory.putDouble(target.memory.address + data, value);
        finish(1, data, Double.BYTES, HANDLE);
        return single(data);
    }

    /**
     * The seed's {@code alloc_value} for an {@link ElementLayout#INT} allocator.
     *
     * @param value the element.
     * @return the single-element handle.
     * @throws IllegalStateException if the layout is not INT, the allocator is closed, or (strict) the caller is
     *                               not the allocating thread.
     */
    public SharedSingle allocateValue(final int value)
    {
        requireLayout(ElementLayout.INT, "allocateValue(int)");
        checkUsable();
        final int data = begin(1, Integer.BYTES, HANDLE);
        allocating = false; // no initializer runs here; before any call: see finish()
        Memory.putInt(target.memory.address + data, value);
        finish(1, data, Integer.BYTES, HANDLE);
        return single(data);
    }

    /**
     * The seed's {@code alloc_value} for a {@link ElementLayout#BYTE} allocator.
     *
     * @param value the element.
     * @return the single-element handle.
     * @throws IllegalStateException if the layout is not BYTE, the allocator is closed, or (strict) the caller is
     *                               not the allocating thread.
     */
    public SharedSingle allocateValue(final byte value)
    {
        requireLayout(ElementLayout.BYTE, "allocateValue(byte)");
        checkUsable();
        final int data = begin(1, Byte.BYTES, HANDLE);
        allocating = false; // no initializer runs here; before any call: see finish()
        Memory.putByte(target.memory.address + data, value);
        finish(1, data, Byte.BYTES, HANDLE);
        return single(data);
    }

    /**
     * The seed's {@code alloc_value} for any layout: copies one element ({@code layout().size()} bytes) from an
     * existing value in a buffer. The bytes of a record's padding, from its size up to its stride, are not written.
     *
     * @param source buffer holding the value.
     * @param offset the value's first byte in {@code source}.
     * @return the single-element handle.
     * @throws IndexOutOfBoundsException if the value does not lie inside {@code source}; nothing is allocated.
     * @throws IllegalStateException     if the allocator is closed or (strict) the caller is not the allocating thread.
     * @throws RuntimeException          what {@code source} itself throws (a released Lake view throws
     *                                   {@link StaleHandleException}); nothing is allocated.
     */
    public SharedSingle allocateValue(final DirectBuffer source, final int offset)
    {
        // The source's capacity first, once: it may be code Lake does not know, and one that closes this allocator
        // (or allocates from it) must run before the allocator is checked, not between that check and the placement
        // (a close there had the placement read the cleared current chunk: a NullPointerException).
        final int capacity = source.capacity();
        final int size = layout.size();
        if (offset < 0 || offset > capacity - size)
        {
            // before checkUsable(): a refused call must not bind a strict allocator to its thread
            throw new IndexOutOfBoundsException(
                "value of " + size + " B at offset " + offset + " is outside the source of " + capacity + " B");
        }
        checkUsable();
        final int data = begin(1, stride, HANDLE);
        try
        {
            target.memory.buffer.putBytes(data, source, offset, size);
        }
        catch (final Throwable ex)
        {
            allocating = false; // first, with no call: see abort()
            abort(); // a source that refuses the read (a released pool Bytes) must not leave the allocator stuck
            throw ex;
        }
        allocating = false; // before the call: see finish()
        finish(1, data, stride, HANDLE);
        return single(data);
    }

    // ----------------------------------------------------------------------------------------------- local slices

    /**
     * Allocates a <em>local</em> slice of {@code length} longs, element {@code i} set to {@code init.value(i)}, and
     * binds {@code reader} to it: the zero-garbage, atomic-free path for a slice that the allocating thread fills,
     * reads and releases itself. No handle and no reference to it exists; the reader holds its only count, and
     * closing the reader releases it. Closing is part of the allocating thread's work, like allocating: in strict
     * mode a close from another thread is refused ({@link IllegalStateException}, the reader stays bound), and the
     * allocator is not handed over ({@link #bindToCurrentThread()}) while its live owner holds local slices.
     *
     * <p>Because nobody else can reach the slice, its release needs no atomic instruction: the count goes back to
     * the allocator's spare references of the current chunk (or, once the chunk is no longer current, to the
     * chunk with one CAS), and when the slice is the last one allocated in the current chunk its bytes are reused
     * by the next allocation (stack order: a steady allocate-read-release loop stays in the same cache lines). A
     * reference forged to point at it is refused like a released one. O(length) for the initializer plus O(1).
     *
     * @param length number of elements, 0 or more; 0 binds the reader to an empty slice that owns no chunk.
     * @param init   computes each element; if it throws, nothing is allocated, the reader stays unbound and the
     *               exception propagates.
     * @param reader an unbound reader; bound to the new slice on return.
     * @return {@code reader}, for try-with-resources.
     * @throws IllegalStateException    if {@code reader} is bound (nothing is allocated), the layout is not
     *                                  {@link ElementLayout#LONG}, the allocator is closed, or (strict) the caller is
     *                                  not the allocating thread.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public SliceReader allocateLocalLongs(final int length, final LongInit init, final SliceReader reader)
    {
        final Chunk c = current;
        if (reader.isBound() || layout != ElementLayout.LONG || length <= 0 || c == null || allocating ||
            strict && owner != Thread.currentThread())
        {
            return allocateLocalLongsElsewhere(length, init, reader); // every refusal, and length 0
        }
        // The common case, kept small enough to inline into the caller: room in the current chunk and a spare
        // reference in hand. Slices of longs keep every offset a multiple of 8, so the data follows the header.
        final ChunkMemory m = c.memory;
        final int start = m.offset;
        final long data = start + (long)HEADER;
        final long bytes = (long)length << 3;
        final int spare = credit;
        if (data + bytes > m.capacity || spare == 0)
        {
            return allocateLocalLongsElsewhere(length, init, reader);
        }
        allocating = true;
        final long base = m.address + data;
        try
        {
            for (int i = 0; i < length; i++)
            {
                Memory.putLong(base + ((long)i << 3), init.value(i));
            }
        }
        catch (final Throwable ex)
        {
            allocating = false; // nothing else changed: no header, no offset, no reference, no stats
            throw ex;
        }
        allocating = false; // the initializer is done; cleared before any call (see finish())
        if (reader.isBound())
        {
            throw boundDuringInit(reader); // the initializer bound the reader: refused, nothing changed
        }
        Memory.putLong(base - HEADER, header(length, LOCAL_COUNT));
        m.offset = (int)(data + bytes);
        credit = spare - 1;
        localOpen++;
        counters.sliceAllocated(bytes);
        return reader.bindLocalLongs(this, c, start, (int)data, length);
    }

    /** {@link #allocateLocalLongs} through the general path: a new or reset chunk, a credit refill, or a refusal. */
    private SliceReader allocateLocalLongsElsewhere(final int length, final LongInit init, final SliceReader reader)
    {
        beginLocal(reader);
        return local(reader, fillLongs(length, init, LOCAL), length);
    }

    /**
     * {@link #allocateLocalLongs} for an {@link ElementLayout#INT} allocator.
     *
     * @param length number of elements, 0 or more.
     * @param init   computes each element; if it throws, nothing is allocated and the exception propagates.
     * @param reader an unbound reader; bound to the new slice on return.
     * @return {@code reader}, for try-with-resources.
     * @throws IllegalStateException    if {@code reader} is bound, the layout is not INT, the allocator is closed, or
     *                                  (strict) the caller is not the allocating thread.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public SliceReader allocateLocalInts(final int length, final IntInit init, final SliceReader reader)
    {
        beginLocal(reader);
        return local(reader, fillInts(length, init, LOCAL), length);
    }

    /**
     * {@link #allocateLocalLongs} for a {@link ElementLayout#DOUBLE} allocator.
     *
     * @param length number of elements, 0 or more.
     * @param init   computes each element; if it throws, nothing is allocated and the exception propagates.
     * @param reader an unbound reader; bound to the new slice on return.
     * @return {@code reader}, for try-with-resources.
     * @throws IllegalStateException    if {@code reader} is bound, the layout is not DOUBLE, the allocator is closed,
     *                                  or (strict) the caller is not the allocating thread.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public SliceReader allocateLocalDoubles(final int length, final DoubleInit init, final SliceReader reader)
    {
        beginLocal(reader);
        return local(reader, fillDoubles(length, init, LOCAL), length);
    }

    /**
     * {@link #allocateLocalLongs} for a {@link ElementLayout#BYTE} allocator.
     *
     * @param length number of elements, 0 or more.
     * @param init   computes each element; if it throws, nothing is allocated and the exception propagates.
     * @param reader an unbound reader; bound to the new slice on return.
     * @return {@code reader}, for try-with-resources.
     * @throws IllegalStateException    if {@code reader} is bound, the layout is not BYTE, the allocator is closed, or
     *                                  (strict) the caller is not the allocating thread.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public SliceReader allocateLocalBytes(final int length, final ByteInit init, final SliceReader reader)
    {
        beginLocal(reader);
        return local(reader, fillBytes(length, init, LOCAL), length);
    }

    /**
     * {@link #allocateLocalLongs} for any layout, each element written in place by {@code init}.
     *
     * @param length number of elements, 0 or more.
     * @param init   writes each element; if it throws, nothing is allocated and the exception propagates.
     * @param reader an unbound reader; bound to the new slice on return.
     * @return {@code reader}, for try-with-resources.
     * @throws IllegalStateException    if {@code reader} is bound, the allocator is closed, or (strict) the caller is
     *                                  not the allocating thread.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public SliceReader allocateLocal(final int length, final ElementInit init, final SliceReader reader)
    {
        beginLocal(reader);
        return local(reader, fillElements(length, init, LOCAL), length);
    }

    // --------------------------------------------------------------------------------------------- primitive tier

    /**
     * Primitive tier of {@link #allocateLongs(int, LongInit)}: allocates no Java object.
     *
     * @param length number of elements, 0 or more; 0 returns {@link #EMPTY_REF}.
     * @param init   computes each element; if it throws, nothing is allocated and the exception propagates.
     * @return the reference, to be released once with {@link #release(long)}.
     * @throws IllegalStateException    if the layout is not LONG, the allocator is closed, (strict) the caller is not
     *                                  the allocating thread, or {@value #MAX_PINNED_CHUNKS} chunks are tracked.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public long allocateLongsRef(final int length, final LongInit init)
    {
        return ref(fillLongs(length, init, REF));
    }

    /**
     * Primitive tier of {@link #allocateInts(int, IntInit)}.
     *
     * @param length number of elements, 0 or more; 0 returns {@link #EMPTY_REF}.
     * @param init   computes each element; if it throws, nothing is allocated and the exception propagates.
     * @return the reference.
     * @throws IllegalStateException    if the layout is not INT, the allocator is closed, (strict) the caller is not
     *                                  the allocating thread, or {@value #MAX_PINNED_CHUNKS} chunks are tracked.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public long allocateIntsRef(final int length, final IntInit init)
    {
        return ref(fillInts(length, init, REF));
    }

    /**
     * Primitive tier of {@link #allocateDoubles(int, DoubleInit)}.
     *
     * @param length number of elements, 0 or more; 0 returns {@link #EMPTY_REF}.
     * @param init   computes each element; if it throws, nothing is allocated and the exception propagates.
     * @return the reference.
     * @throws IllegalStateException    if the layout is not DOUBLE, the allocator is closed, (strict) the caller is
     *                                  not the allocating thread, or {@value #MAX_PINNED_CHUNKS} chunks are tracked.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public long allocateDoublesRef(final int length, final DoubleInit init)
    {
        return ref(fillDoubles(length, init, REF));
    }

    /**
     * Primitive tier of {@link #allocateBytes(int, ByteInit)}.
     *
     * @param length number of elements, 0 or more; 0 returns {@link #EMPTY_REF}.
     * @param init   computes each element; if it throws, nothing is allocated and the exception propagates.
     * @return the reference.
     * @throws IllegalStateException    if the layout is not BYTE, the allocator is closed, (strict) the caller is not
     *                                  the allocating thread, or {@value #MAX_PINNED_CHUNKS} chunks are tracked.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public long allocateBytesRef(final int length, final ByteInit init)
    {
        return ref(fillBytes(length, init, REF));
    }

    /**
     * Primitive tier of {@link #allocate(int, ElementInit)}.
     *
     * @param length number of elements, 0 or more; 0 returns {@link #EMPTY_REF}.
     * @param init   writes each element; if it throws, nothing is allocated and the exception propagates.
     * @return the reference.
     * @throws IllegalStateException    if the allocator is closed, (strict) the caller is not the allocating thread,
     *                                  or {@value #MAX_PINNED_CHUNKS} chunks are tracked.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public long allocateRef(final int length, final ElementInit init)
    {
        return ref(fillElements(length, init, REF));
    }

    /**
     * Primitive tier of {@link #tryAllocate(int, FallibleInit)}.
     *
     * @param length number of elements, 0 or more.
     * @param init   writes each element or throws.
     * @param <X>    the initializer's exception.
     * @return the reference.
     * @throws X                        what the initializer threw; nothing was allocated.
     * @throws IllegalStateException    if the allocator is closed, (strict) the caller is not the allocating thread,
     *                                  or {@value #MAX_PINNED_CHUNKS} chunks are tracked.
     * @throws IllegalArgumentException if {@code length} is negative or too large for one chunk.
     */
    public <X extends Exception> long tryAllocateRef(final int length, final FallibleInit<X> init) throws X
    {
        return ref(tryFill(length, init, REF));
    }

    /**
     * Whether a reference still refers to a slice with at least one count. Any thread, O(1), no allocation, but
     * like every accessor of this tier it reads the slice's header in the chunk: the caller must hold a count on
     * {@code ref} (or otherwise know that no {@link #release(long)} of its slice runs at the same time). A release
     * racing this call may free the chunk while it is read: for a large dedicated chunk, given back to the
     * operating system, that read can crash the JVM. A reference whose last release happened before the call
     * is answered safely: {@code false}.
     *
     * @param ref a reference from this allocator.
     * @return whether it still refers to a slice with at least one reference (false for {@link #EMPTY_REF}).
     */
    public boolean isLive(final long ref)
    {
        final Chunk c = lookup(ref);
        if (c == null)
        {
            return false;
        }
        final int data = dataOf(ref);
        final ChunkMemory m = c.memory;
        // the generation again after the count (a volatile read: the reload stays after it): a reset in place that
        // came between the lookup and the count wrote a new slice's header there, which read as this reference's
        // the header, and its slice, below the allocated end, as every count operation and bulk copy requires
        final int end = m.offset;
        if (data < HEADER || data >= end || m.buffer.getIntVolatile(data - Integer.BYTES) <= 0)
        {
            return false;
        }
        final int length = m.buffer.getInt(data - HEADER);
        return length > 0 && data + (long)length * stride <= end && c.generation == generationOf(ref);
    }

    /**
     * @param ref a live reference from this allocator, or {@link #EMPTY_REF}.
     * @return the slice's number of elements. O(1), any thread.
     * @throws StaleHandleException if the reference was released or its chunk freed or reused.
     */
    public int length(final long ref)
    {
        if (ref == EMPTY_REF)
        {
            return 0;
        }
        return checkHeader(ref, lookup(ref));
    }

    /**
     * Reads one element through a reference. O(1), any thread, no allocation.
     *
     * @param ref   a live reference, or {@link #EMPTY_REF} (which has no element: every index is out of bounds).
     * @param index element index.
     * @return the element of a LONG slice.
     * @throws StaleHandleException      if the reference was released or its chunk freed or reused.
     * @throws IndexOutOfBoundsException if {@code index} is out of the slice.
     * @throws IllegalStateException     if the layout is not LONG.
     */
    public long getLong(final long ref, final int index)
    {
        return Memory.getLong(checkedAddress(ref, index, ElementLayout.LONG) + ((long)index << 3));
    }

    /**
     * Reads one element through a reference. O(1), any thread, no allocation.
     *
     * @param ref   a live reference, or {@link #EMPTY_REF} (which has no element: every index is out of bounds).
     * @param index element index.
     * @return the element of a DOUBLE slice.
     * @throws StaleHandleException      if the reference was released or its chunk freed or reused.
     * @throws IndexOutOfBoundsException if {@code index} is out of the slice.
     * @throws IllegalStateException     if the layout is not DOUBLE.
     */
    public double getDouble(final long ref, final int index)
    {
        final long address = checkedAddress(ref, index, ElementLayout.DOUBLE);
        return Double.longBitsToDouble(Memory.getLong(address + ((long)index << 3)));
    }

    /**
     * Reads one element through a reference. O(1), any thread, no allocation.
     *
     * @param ref   a live reference, or {@link #EMPTY_REF} (which has no element: every index is out of bounds).
     * @param index element index.
     * @return the element of an INT slice.
     * @throws StaleHandleException      if the reference was released or its chunk freed or reused.
     * @throws IndexOutOfBoundsException if {@code index} is out of the slice.
     * @throws IllegalStateException     if the layout is not INT.
     */
    public int getInt(final long ref, final int index)
    {
        return Memory.getInt(checkedAddress(ref, index, ElementLayout.INT) + ((long)index << 2));
    }

    /**
     * Reads one element through a reference. O(1), any thread, no allocation.
     *
     * @param ref   a live reference, or {@link #EMPTY_REF} (which has no element: every index is out of bounds).
     * @param index element index.
     * @return the element of a BYTE slice.
     * @throws StaleHandleException      if the reference was released or its chunk freed or reused.
     * @throws IndexOutOfBoundsException if {@code index} is out of the slice.
     * @throws IllegalStateException     if the layout is not BYTE.
     */
    public byte getByte(final long ref, final int index)
    {
        return Memory.getByte(checkedAddress(ref, index, ElementLayout.BYTE) + index);
    }

    /**
     * Adds one holder to a referenced slice (the primitive {@code share()}): each holder releases once. O(1): one
     * CAS. Any thread that holds a count.
     *
     * @param ref a live reference; {@link #EMPTY_REF} is accepted and ignored.
     * @throws StaleHandleException  if the reference was released or its chunk freed or reused.
     * @throws IllegalStateException if the slice already has {@link Integer#MAX_VALUE} holders: the count never
     *                               wraps, nothing changes.
     */
    public void retain(final long ref)
    {
        if (ref != EMPTY_REF)
        {
            retainSlice(checkedChunk(ref), dataOf(ref));
        }
    }

    /**
     * Drops one holder's count; the last frees the slice, and the chunk when it was the chunk's last reference.
     * O(1). Any thread.
     *
     * @param ref a live reference; {@link #EMPTY_REF} is accepted and ignored.
     * @throws StaleHandleException if the slice has no count left (released more often than retained) or its chunk
     *                              was freed or reused.
     */
    public void release(final long ref)
    {
        if (ref != EMPTY_REF)
        {
            final Chunk c = checkedChunk(ref);
            final int data = dataOf(ref);
            releaseSlice(c, data, (long)c.memory.buffer.getInt(data - HEADER) * stride);
        }
    }

    /**
     * Moves one count of a referenced slice into a new handle: afterwards the handle owns it and the caller must
     * not release the reference for it. O(1), one object, no CAS. Any thread.
     *
     * @param ref a live reference, or {@link #EMPTY_REF} for an empty slice.
     * @return the handle.
     * @throws StaleHandleException if the reference was released or its chunk freed or reused.
     */
    public SharedSlice toHandle(final long ref)
    {
        if (ref == EMPTY_REF)
        {
            return new SharedSlice(Chunk.NONE, 0, 0, layout);
        }
        final Chunk c = checkedChunk(ref);
        final int data = dataOf(ref);
        return new SharedSlice(c, data, c.memory.buffer.getInt(data - HEADER), layout);
    }

    /**
     * Copies {@code count} elements of a LONG slice, from element {@code index}, into {@code dst}: one validation
     * for the whole range instead of one per element. Like every accessor of this tier it trusts the caller's
     * count for the duration of the call: the validation refuses a reference whose slice was released or whose
     * chunk was freed or reused before the call, and the caller's count keeps it from happening during it (a
     * reference read by a thread that holds no count on it can race its release). O(count), any thread, no
     * allocation.
     *
     * @param ref       a live reference the caller holds a count on.
     * @param index     first element to copy.
     * @param dst       destination array.
     * @param dstOffset first array index written.
     * @param count     number of elements.
     * @throws StaleHandleException      if the reference was released or its chunk freed or reused.
     * @throws IndexOutOfBoundsException if the range is not inside the slice or the array (nothing is copied).
     * @throws IllegalStateException     if the layout is not LONG.
     */
    public void getLongs(final long ref, final int index, final long[] dst, final int dstOffset, final int count)
    {
        requireLayout(ElementLayout.LONG, "read long elements");
        final int length = length(ref);
        checkRange(index, count, length, dstOffset, dst.length);
        if (count == 0)
        {
            return;
        }
        final Chunk c = checkedChunk(ref);
        Memory.copy(c.memory.address + dataOf(ref) + ((long)index << 3), dst, dstOffset, count);
        Reference.reachabilityFence(c); // a copy may reach a safepoint: a dropped allocator's table is all that pins c
    }

    /**
     * Copies {@code bytes} bytes of a slice's data, from byte {@code byteIndex} (element {@code i} starts at
     * {@code i * layout().stride()}), into an Agrona buffer, for any layout: one validation for the whole range,
     * trusting the caller's count during the call like {@link #getLongs}. O(bytes), any thread; no allocation into
     * Agrona's and Lake's own buffers, a heap copy for another {@code MutableDirectBuffer} type, so that foreign code
     * never holds the chunk ({@link Memory#copyOut}).
     *
     * @param ref       a live reference the caller holds a count on.
     * @param byteIndex first byte of the slice's data to copy.
     * @param dst       destination buffer.
     * @param dstIndex  first byte written in {@code dst}.
     * @param bytes     number of bytes.
     * @throws StaleHandleException      if the reference was released or its chunk freed or reused.
     * @throws IndexOutOfBoundsException if the range is not inside the slice or {@code dst} (nothing is copied).
     */
    public void getBytes(final long ref, final int byteIndex, final MutableDirectBuffer dst, final int dstIndex,
        final int bytes)
    {
        final int length = length(ref);
        checkRange(byteIndex, bytes, length * stride, dstIndex, dst.capacity());
        if (bytes == 0)
        {
            return;
        }
        final Chunk c = checkedChunk(ref);
        Memory.copyOut(c.memory.buffer, dataOf(ref) + byteIndex, dst, dstIndex, bytes);
        // the heap copy for a foreign destination allocates: with the allocator dropped (a leak), only this keeps the
        // chunk from being freed under the copy
        Reference.reachabilityFence(c);
    }

    /** The validated chunk of a live reference, {@link Chunk#NONE} for {@link #EMPTY_REF}; adds one count to the slice. */
    Chunk retainChunk(final long ref)
    {
        if (ref == EMPTY_REF)
        {
            return Chunk.NONE;
        }
        final Chunk c = checkedChunk(ref);
        retainSlice(c, dataOf(ref));
        return c;
    }

    /** Checks that {@code [from, from + count)} lies in {@code 0..length}, {@code [to, to + count)} in {@code 0..room}. */
    static void checkRange(final int from, final int count, final int length, final int to, final int room)
    {
        if (from < 0 || count < 0 || to < 0 || from > length - count || to > room - count)
        {
            throw new IndexOutOfBoundsException("range of " + count + " from " + from + " to " + to +
                " is outside the slice of " + length + " or the destination of " + room);
        }
    }


    // ------------------------------------------------------------------------------------------------- internals

    private SharedSlice handle(final int data, final int length)
    {
        if (length == 0)
        {
            return new SharedSlice(Chunk.NONE, 0, 0, layout);
        }
        final Chunk c = target;
        target = null;
        try
        {
            return new SharedSlice(c, data, length, layout);
        }
        catch (final Throwable ex)
        {
            // the handle comes from the heap after the slice was placed and counted: an OutOfMemoryError here must
            // not leave a live slice nobody can release (held until the chunk's safety net reports a leak)
            releaseSlice(c, data, (long)length * stride);
            throw ex;
        }
    }

    private SharedSingle single(final int data)
    {
        final Chunk c = target;
        target = null;
        try
        {
            return new SharedSingle(c, data, layout);
        }
        catch (final Throwable ex)
        {
            releaseSlice(c, data, stride); // as in handle(): no live slice without a handle
            throw ex;
        }
    }

    /**
     * Checks the reader of a local allocation on the general path and records it for {@link #finish}, which refuses
     * the allocation if the initializer bound it. A call from inside an initializer (refused later, as every
     * allocation there) records nothing: it must not swap the reader of the allocation in flight
     * (NineteenthFixReviewSliceTest).
     */
    private void beginLocal(final SliceReader reader)
    {
        reader.checkUnbound();
        if (!allocating)
        {
            localReader = reader;
        }
    }

    private SliceReader local(final SliceReader reader, final int data, final int length)
    {
        if (length == 0)
        {
            if (reader.isBound())
            {
                throw boundDuringInit(reader);
            }
            return reader.bindEmpty(layout);
        }
        localReader = null;
        final Chunk c = target;
        target = null;
        localOpen++;
        return reader.bindLocal(this, c, targetStart, data, length); // a reader the initializer bound: see finish()
    }

    private static IllegalStateException boundDuringInit(final SliceReader reader)
    {
        return new IllegalStateException(reader + " was bound by the initializer: a local slice needs an unbound reader");
    }

    /**
     * Releases a local slice for its reader, on the allocating thread, without an atomic instruction while its chunk
     * is current: the slice's chunk reference goes back to the spares, and the bytes of the slice last allocated go
     * back to the chunk. Nothing else can reach a local slice (its header count refuses every reference), so plain
     * stores suffice; the only shared state it writes outside the current chunk is that chunk's count (one CAS).
     * The caller checked {@link #checkLocalRelease()} and unbound its reader first (see there).
     */
    void releaseLocal(final Chunk c, final int start, final int data, final int end)
    {
        final ChunkMemory m = c.memory;
        if (c == current)
        {
            if (m.offset == end)
            {
                m.offset = start; // the last slice allocated: its bytes go to the next one (its header is past the end)
            }
            else
            {
                Memory.putInt(m.address + data - Integer.BYTES, 0); // released, for the leak walk
            }
            credit++;
        }
        else
        {
            // The chunk was left behind (or the allocator closed): its count is shared with other threads.
            Memory.putInt(m.address + data - Integer.BYTES, 0);
            c.releaseReference();
        }
        counters.sliceReleased(end - data);
        LOCAL_OPEN.setRelease(this, localOpen - 1);
    }

    /**
     * Refuses the release of a local slice on the wrong thread or from inside an initializer, before anything changes.
     * Apart from {@link #releaseLocal} so that the reader can unbind itself between the two, with plain stores: a
     * release cut short part-way (a {@link StackOverflowError} refusing one of its calls, after the spare reference
     * or the offset was given back) left the reader bound, and the caller's retry of {@code close()} released the
     * slice again: one spare reference too many, so the chunk could be reset in place, or freed, under a live slice.
     *
     * @throws IllegalStateException (nothing changes) if the caller is not the allocating thread (strict), or an
     *                               allocation is in progress (called from an initializer).
     */
    void checkLocalRelease()
    {
        if (strict && owner != Thread.currentThread() || allocating)
        {
            throw localRefused();
        }
    }

    private IllegalStateException localRefused()
    {
        if (allocating)
        {
            return new IllegalStateException("cannot release a local slice from inside an initializer");
        }
        return new IllegalStateException("a local slice is released on its allocator's thread (" +
            (owner == null ? "none" : owner.getName()) + "), not on " + Thread.currentThread().getName() +
            ": allocate a shared slice to hand it over");
    }

    private long ref(final int data)
    {
        final Chunk c = target;
        if (c == null)
        {
            return EMPTY_REF;
        }
        target = null;
        return ((long)c.generation << GENERATION_SHIFT) | ((long)c.memory.node.slot << SLOT_SHIFT) | (data >>> 3);
    }

    private int fillLongs(final int length, final LongInit init, final int mode)
    {
        requireLayout(ElementLayout.LONG, "long elements");
        final long bytes = checkLength(length);
        if (length == 0)
        {
            return 0;
        }
        final int data = begin(length, bytes, mode);
        try
        {
            // The range was checked against the chunk once: raw stores, no per-element bounds check.
            final long base = target.memory.address + data;
            for (int i = 0; i < length; i++)
            {
                Memory.putLong(base + ((long)i << 3), init.value(i));
            }
        }
        catch (final Throwable ex)
        {
            allocating = false; // first, with no call: see abort()
            abort();
            throw ex;
        }
        allocating = false; // before the call: see finish()
        finish(length, data, bytes, mode);
        return data;
    }

    private int fillInts(final int length, final IntInit init, final int mode)
    {
        requireLayout(ElementLayout.INT, "int elements");
        final long bytes = checkLength(length);
        if (length == 0)
        {
            return 0;
        }
        final int data = begin(length, bytes, mode);
        try
        {
            // Raw stores, as for longs: one range check against the chunk, and no Agrona buffer whose base C2 must
            // assume may alias every Java field.
            final long base = target.memory.address + data;
            for (int i = 0; i < length; i++)
            {
                Memory.putInt(base + ((long)i << 2), init.value(i));
            }
        }
        catch (final Throwable ex)
        {
            allocating = false; // first, with no call: see abort()
            abort();
            throw ex;
        }
        allocating = false; // before the call: see finish()
        finish(length, data, bytes, mode);
        return data;
    }

    private int fillDoubles(final int length, final DoubleInit init, final int mode)
    {
        requireLayout(ElementLayout.DOUBLE, "double elements");
        final long bytes = checkLength(length);
        if (length == 0)
        {
            return 0;
        }
        final int data = begin(length, bytes, mode);
        try
        {
            final long base = target.memory.address + data;
            for (int i = 0; i < length; i++)
            {
                Memory.putLong(base + ((long)i << 3), Double.doubleToRawLongBits(init.value(i)));
            }
        }
        catch (final Throwable ex)
        {
            allocating = false; // first, with no call: see abort()
            abort();
            throw ex;
        }
        allocating = false; // before the call: see finish()
        finish(length, data, bytes, mode);
        return data;
    }

    private int fillBytes(final int length, final ByteInit init, final int mode)
    {
        requireLayout(ElementLayout.BYTE, "byte elements");
        final long bytes = checkLength(length);
        if (length == 0)
        {
            return 0;
        }
        final int data = begin(length, bytes, mode);
        try
        {
            final long base = target.memory.address + data;
            for (int i = 0; i < length; i++)
            {
                Memory.putByte(base + i, init.value(i));
            }
        }
        catch (final Throwable ex)
        {
            allocating = false; // first, with no call: see abort()
            abort();
            throw ex;
        }
        allocating = false; // before the call: see finish()
        finish(length, data, bytes, mode);
        return data;
    }

    private int fillElements(final int length, final ElementInit init, final int mode)
    {
        final long bytes = checkLength(length);
        if (length == 0)
        {
            return 0;
        }
        final int data = begin(length, bytes, mode);
        try
        {
            final UnsafeBuffer w = openWindow(data, bytes);
            for (int i = 0; i < length; i++)
            {
                init.init(w, i * stride, i);
            }
            closeWindow(w);
        }
        catch (final Throwable ex)
        {
            allocating = false; // first, with no call: see abort()
            abort();
            throw ex;
        }
        allocating = false; // before the call: see finish()
        finish(length, data, bytes, mode);
        return data;
    }

    private <X extends Exception> int tryFill(final int length, final FallibleInit<X> init, final int mode) throws X
    {
        final long bytes = checkLength(length);
        if (length == 0)
        {
            return 0;
        }
        final int data = begin(length, bytes, mode);
        try
        {
            final UnsafeBuffer w = openWindow(data, bytes);
            for (int i = 0; i < length; i++)
            {
                init.init(w, i * stride, i);
            }
            closeWindow(w);
        }
        catch (final Throwable ex)
        {
            allocating = false; // first, with no call: see abort()
            abort();
            throw ex;
        }
        allocating = false; // before the call: see finish()
        finish(length, data, bytes, mode);
        return data;
    }

    private <X extends Exception> int tryFillLongs(final int length, final FallibleLongInit<X> init, final int mode)
        throws X
    {
        requireLayout(ElementLayout.LONG, "long elements");
        final long bytes = checkLength(length);
        if (length == 0)
        {
            return 0;
        }
        final int data = begin(length, bytes, mode);
        try
        {
            // The range was checked against the chunk once: raw stores, no per-element bounds check.
            final long base = target.memory.address + data;
            for (int i = 0; i < length; i++)
            {
                Memory.putLong(base + ((long)i << 3), init.value(i));
            }
        }
        catch (final Throwable ex)
        {
            allocating = false; // first, with no call: see abort()
            abort();
            throw ex;
        }
        allocating = false; // before the call: see finish()
        finish(length, data, bytes, mode);
        return data;
    }

    /** The header word of a new slice, in native order: length in the first int, its count in the second. */
    private static long header(final int length, final int count)
    {
        return LITTLE_ENDIAN ?
            ((long)count << 32) | (length & 0xFFFF_FFFFL) :
            ((long)length << 32) | (count & 0xFFFF_FFFFL);
    }

    private UnsafeBuffer openWindow(final int data, final long bytes)
    {
        final UnsafeBuffer w = window;
        // the raw address: wrapped over the chunk's region buffer, the window's byteBuffer() would be the region's NIO
        // view, over the whole chunk and outliving closeWindow (the initializer's window is over its slice alone)
        w.wrap(target.memory.address + data, (int)bytes);
        return w;
    }

    private void requireLayout(final ElementLayout expected, final String what)
    {
        if (layout != expected)
        {
            throw new IllegalStateException("this SliceAllocator's layout is " + layout + ": it cannot allocate " + what);
        }
    }

    private long checkLength(final int length)
    {
        // the arguments before checkUsable(): a refused call must not bind a strict allocator to its thread
        if (length < 0)
        {
            throw new IllegalArgumentException("slice length must not be negative: " + length);
        }
        final long bytes = (long)length * stride;
        if (bytes + dataAlign > Region.MAX_SIZE)
        {
            throw new IllegalArgumentException("slice of " + length + " x " + stride + " B is larger than the largest chunk (" +
                Region.MAX_SIZE + " B with its header): " + length);
        }
        checkUsable();
        if (length == 0)
        {
            claimUnconfirmed = false; // an empty slice succeeds without counting a slice: the claim stands
        }
        return bytes;
    }

    private void checkUsable()
    {
        if (strict)
        {
            final Thread caller = Thread.currentThread();
            if (owner != caller && !claimOwner(caller))
            {
                throw new IllegalStateException("SliceAllocator is confined to " +
                    ((Thread)OWNER.getVolatile(this)).getName() + ": allocation from " + caller.getName() +
                    " refused (bindToCurrentThread() hands it over)");
            }
        }
        else if (owner == null)
        {
            bindOwner(Thread.currentThread()); // not checked, but its releases still count without an atomic
        }
        if (closed)
        {
            throw new IllegalStateException("SliceAllocator is closed");
        }
        if (allocating)
        {
            throw new IllegalStateException("SliceAllocator cannot allocate from inside an initializer");
        }
    }

    /**
     * Chooses where {@code bytes} of data go, starting a chunk if needed, without changing any visible state: the
     * offset moves and references are taken only by {@link #finish}. A chunk started here is freed by {@link #abort}.
     * The common case (room in the current chunk, already pinned) is kept small so that it inlines into the
     * allocation methods; the rest is in {@link #beginElsewhere}. Sets {@link #allocating} (the initializer's
     * re-entry guard) as its last step, after its last call: see {@link #finish}.
     */
    private int begin(final int length, final long bytes, final int mode)
    {
        final Chunk cur = current;
        final ChunkMemory m = cur.memory;
        final long data = align(m.offset + (long)HEADER);
        if (data + bytes > m.capacity)
        {
            return beginElsewhere(bytes, mode);
        }
        target = cur;
        targetKind = IN_CURRENT;
        if (mode == REF && m.node == null) // pinned once per chunk: the check stays inline, pin() does not
        {
            pinTarget();
        }
        allocating = true; // after the last call: see finish()
        return (int)data;
    }

    /** {@link #begin} when the current chunk has no room: a dedicated chunk, a reset in place or a fresh chunk. */
    private int beginElsewhere(final long bytes, final int mode)
    {
        final Chunk cur = current;
        final ChunkMemory m = cur.memory;
        if (dataAlign + bytes > chunkBytes)
        {
            target = chunkForAllocation((int)(dataAlign + bytes));
            targetKind = DEDICATED;
        }
        else if (cur.refCount() == 1 + credit)
        {
            // No live slice uses the current chunk, and only this thread could add one: reuse it in place.
            // Stale references into it must fail from now on, whether or not this allocation succeeds.
            if (m.node != null)
            {
                if (cur.generation == lastGeneration)
                {
                    // The generation would wrap and revive references released long ago: retire the slot for
                    // good and give the chunk a fresh one (a slot lasts 65,535 reuses; the table holds 2^20).
                    slots[m.node.slot] = null;
                    m.node = null;
                    cur.generation = 0; // pinned again, in a fresh slot, when a reference needs it
                }
                else
                {
                    cur.generation = nextGeneration(cur.generation);
                    m.node.generation = cur.generation;
                }
            }
            // the new generation before any header this reset writes: a reader that sees such a header then sees the
            // generation change too (checkHeader reloads it), and refuses a reference released before the reset
            VarHandle.storeStoreFence();
            target = cur;
            targetKind = RESET_CURRENT;
        }
        else
        {
            target = chunkForAllocation(chunkBytes);
            targetKind = FRESH;
        }
        if (mode == REF && target.memory.node == null)
        {
            pinTarget();
        }
        allocating = true; // after the last call: see finish()
        return dataAlign;
    }

    /**
     * {@link #newChunk} for the allocation in progress: refused (the operating system, a full heap), it gives back a
     * strict claim that call made, as {@link #abort} does for the failures after it (TenthNativeRefusalTest).
     */
    private Chunk chunkForAllocation(final int bytes)
    {
        try
        {
            return newChunk(bytes);
        }
        catch (final Throwable refused)
        {
            if (claimUnconfirmed)
            {
                giveBackUnconfirmedClaim();
            }
            throw refused;
        }
    }

    private void pinTarget()
    {
        try
        {
            pin(target);
            pinnedFor = target;
            pinnedAtSlice = counters.slicesAllocated();
        }
        catch (final Throwable ex)
        {
            // a full table, or an OutOfMemoryError growing it: the allocation in progress is undone (a chunk started
            // for it freed), or the allocator stayed "inside an initializer" for good
            allocating = false; // first, with no call: see abort()
            abort();
            throw ex;
        }
    }

    /**
     * Places the slice the initializer filled: header, offset, chunk reference, stats. Its callers clear
     * {@link #allocating} before calling it, and every catch clears it before calling {@link #abort}, with a plain store
     * and no call in between: any call can be refused by a {@link StackOverflowError} (an initializer that recursed to
     * the edge of the stack, an allocation made deep in a recursion), and when the flag was cleared inside the call,
     * that refusal left it set for good. Every later allocation then threw "cannot allocate from inside an initializer"
     * and close() "cannot close from inside an initializer": the allocator was wedged and its chunk never given back.
     * Now such an error costs at most the allocation in progress (a slice or a started chunk left to the leak safety
     * net), never the allocator.
     */
    private void finish(final int length, final int data, final long bytes, final int mode)
    {
        if (mode == LOCAL && localReader.isBound())
        {
            // The initializer bound the reader: refused before anything is counted or switched, as on the fast path.
            // Refused after, in local(), the call left a fresh chunk reserved, the old one's tail wasted, a slice
            // counted and a strict allocator bound to its thread (NineteenthReviewSliceTest).
            abort();
            throw boundDuringInit(localReader);
        }
        final Chunk t = target;
        final ChunkMemory m = t.memory;
        // [int length][int references] in one raw store: data - HEADER lies inside the chunk (begin chose it). A
        // local slice's count reads LOCAL_COUNT: no reference to it exists, and every count operation refuses it.
        Memory.putLong(m.address + data - HEADER, header(length, mode == LOCAL ? LOCAL_COUNT : 1));
        final int end = (int)(data + bytes);
        if (targetKind <= RESET_CURRENT)
        {
            // In the current chunk: the slice's chunk reference comes from the allocator's spares.
            int spare = credit;
            if (spare == 0)
            {
                t.addReferences(CREDIT_BATCH);
                spare = CREDIT_BATCH;
            }
            credit = spare - 1;
            if (mode == LOCAL)
            {
                targetStart = targetKind == IN_CURRENT ? m.offset : 0;
            }
            m.offset = end;
        }
        else
        {
            targetStart = 0;
            finishElsewhere(t, m, end);
        }
        counters.sliceAllocated(bytes);
    }

    /** {@link #finish} for a slice placed in a dedicated or a fresh chunk (the chunk's first reference is its). */
    private void finishElsewhere(final Chunk t, final ChunkMemory m, final int end)
    {
        m.offset = end;
        if (targetKind == DEDICATED)
        {
            return;
        }
        final Chunk old = current;
        final ChunkMemory oldMemory = old.memory;
        final int newRoom = m.capacity - end;
        final int oldRoom = oldMemory.capacity - oldMemory.offset;
        if (newRoom > oldRoom)
        {
            // The new chunk has more room: it becomes current (its first reference is now the
            // allocator's), and the old one's tail is abandoned. The allocator's reference to the new chunk is
            // taken first, by the one call before the switch: refused at the edge of the stack (see finish()), it
            // leaves the old chunk current with its own spares; taken after the switch, a refusal left the new
            // current chunk handing out the old one's spare references, which it does not have (freed under
            // its live slices). The abandoned tail is counted before the old chunk can be freed (its free
            // subtracts it), and in the stats before the chunk records it, so a refusal there counts neither.
            t.addReferences(1);
            final int spare = credit;
            current = t;
            credit = 0;
            counters.wasted(oldRoom);
            oldMemory.wasted = oldRoom;
            old.releaseReferences(1 + spare);
        }
        else
        {
            // The old chunk keeps more room: the new one belongs to this slice alone.
            m.wasted = newRoom;
            counters.wasted(newRoom);
        }
    }

    /**
     * Points the initializer's window at nothing: address 0, capacity 0, so that an initializer that kept it
     * (a bug its contract names) fails on its next write, with Agrona's bounds checks or, without them, at
     * address 0, instead of writing into the Java heap or into the next slice.
     */
    private static void closeWindow(final UnsafeBuffer w)
    {
        w.wrap(0L, 0);
    }

    /**
     * Undoes the allocation in progress after its initializer (or the pin, or a copy source) threw. Its callers clear
     * {@link #allocating} first, before calling it, for the reason given at {@link #finish}; it clears it again for
     * any other caller.
     */
    private void abort()
    {
        final Chunk t = target;
        target = null;
        localReader = null;
        closeWindow(window);
        allocating = false;
        if (targetKind == RESET_CURRENT)
        {
            // the chunk held no live slice and the failed initializer wrote over its old headers: it is empty now
            t.memory.offset = 0;
        }
        if (t == pinnedFor)
        {
            // every kind: a dedicated or fresh chunk freed below would otherwise give its slot back through its
            // cleanup at the pin's generation, one of the slot's 65,535 reuses spent per failure with nothing handed out
            unpinUnused(t);
        }
        if (targetKind == DEDICATED || targetKind == FRESH)
        {
            t.releaseReference();
        }
        if (claimUnconfirmed)
        {
            giveBackUnconfirmedClaim();
        }
    }

    /**
     * The failure path of a strict allocator's first allocating calls: while nothing was allocated since the claim,
     * the claim goes back, so the failed call changed nothing (another thread may then make the first allocation);
     * once a slice was allocated the claim stands. A strict owner is only ever claimed from no owner, and none
     * allocates without one, so no slice counted means none since the claim; an empty slice, which counts none,
     * confirms the claim where it is made ({@link #checkLength}).
     */
    private void giveBackUnconfirmedClaim()
    {
        claimUnconfirmed = false;
        if (counters.slicesAllocated() == 0)
        {
            dropClaim();
        }
    }

    /**
     * Gives a strict claim back: a release fence and a plain store, no {@code VarHandle} access mode. A call site of
     * one that runs for the first time links through the heap, so on the full heap that failed the claiming call a
     * {@code setVolatile} here threw {@code OutOfMemoryError} in turn and the claim stayed. A thread that still
     * reads the old owner is refused as if it had come before the give-back.
     */
    private void dropClaim()
    {
        VarHandle.releaseFence();
        owner = null;
    }

    /**
     * Takes back the pin of the current chunk {@code t}, made for an allocation that failed, if no slice was allocated
     * since: no reference carries the pin's generation, and left pinned the table would hold the chunk, a leaked
     * handle in it never found by the safety net, and each reset in place would spend one of its slot's reuses (the
     * cost slices.md says the handle and local tiers do not pay). Its generation goes back to 0, as an unpinned
     * chunk's is; the slot goes back to the pool. A dedicated or fresh chunk about to be freed too: its cleanup then
     * finds no slot to give back.
     */
    private void unpinUnused(final Chunk t)
    {
        pinnedFor = null;
        final ChunkMemory m = t.memory;
        final SlotPool.Node node = m.node;
        if (node == null || pinnedAtSlice != counters.slicesAllocated())
        {
            return;
        }
        slots[node.slot] = null;
        m.node = null;
        t.generation = 0;
        // the slot's generation as it was: no reference carried the pin's, and a failure per message must not spend
        // the slot's 65,535 reuses (then the table's slots) with nothing allocated. Not a slot made for this pin: it
        // starts at lastGeneration, which the pool reads as spent; it keeps the pin's (one reuse, once per slot)
        if (pinnedFromGeneration != lastGeneration)
        {
            node.generation = pinnedFromGeneration;
        }
        slotPool.push(node);
    }

    private Chunk newChunk(final int bytes)
    {
        final Region region = Region.builder(bytes).alignment(Math.max(Region.DEFAULT_ALIGNMENT, dataAlign)).build();
        boolean counted = false;
        try
        {
            final String description = "SliceAllocator chunk[" + bytes + " B, " + layout + "]";
            final ChunkMemory memory = new ChunkMemory(region, counters, slotPool, stride, dataAlign, description,
                NativeMemory.allocationSite(description));
            counters.chunkCreated(bytes);
            counted = true;
            return new Chunk(memory, NativeMemory.cleaner()); // last: its cleaner owns the region from here
        }
        catch (final Throwable ex)
        {
            // the description, allocation site, chunk and cleaner registration come from the heap: an
            // OutOfMemoryError there must not leave the region to its own safety net (a false leak report, the bytes
            // held until a GC) nor the chunk counted live for good
            if (counted)
            {
                counters.chunkFreed(bytes, 0);
            }
            region.close();
            throw ex;
        }
    }

    /** Gives a chunk a slot in the primitive tier's table, so references can find it. Allocating thread only. */
    private void pin(final Chunk chunk)
    {
        final ChunkMemory m = chunk.memory;
        if (m.node != null)
        {
            return;
        }
        SlotPool.Node node = slotPool.pop();
        while (node != null && node.generation == lastGeneration)
        {
            node = slotPool.pop(); // exhausted: its next generation would revive old references; retired for good
        }
        if (node == null)
        {
            if (nextSlot == MAX_PINNED_CHUNKS)
            {
                throw new IllegalStateException("the primitive tier's table of " + MAX_PINNED_CHUNKS + " slots is " +
                    "spent (each held by a chunk with live references, or retired after 65,535 reuses): release " +
                    "references or use handles");
            }
            // the table grows and the node is made before the slot number is spent: an OutOfMemoryError in either
            // changes nothing (spent first, the slot was never in the table and every later new slot out of its bounds)
            final int slot = nextSlot;
            if (slot == slots.length)
            {
                final Chunk[] grown = Arrays.copyOf(slots, Math.min(MAX_PINNED_CHUNKS, slots.length * 2));
                // other threads read the table without synchronizing with this store (lookup(), plain): the copied
                // entries must be visible before the new table is, or a weakly ordered CPU (AArch64) could show a
                // reader the new table with a null where its live reference's chunk is, and call the reference stale.
                // A release fence orders them here, as a constructor's final fields are, at no cost to the readers
                // (x86 needs none; no test on this machine can show the reordering)
                VarHandle.releaseFence();
                slots = grown;
            }
            node = new SlotPool.Node(slot);
            node.generation = generationSeed;
            nextSlot = slot + 1;
        }
        pinnedFromGeneration = node.generation;
        final int generation = nextGeneration(node.generation);
        node.generation = generation;
        chunk.generation = generation;
        m.node = node;
        slots[node.slot] = chunk;
    }

    private static int nextGeneration(final int generation)
    {
        final int next = (generation + 1) & GENERATION_MASK;
        return next == 0 ? 1 : next;
    }

    private long align(final long value)
    {
        return (value + dataAlign - 1) & -dataAlign;
    }

    static int generationOf(final long ref)
    {
        return (int)(ref >>> GENERATION_SHIFT);
    }

    static int dataOf(final long ref)
    {
        return ((int)ref & OFFSET_MASK) << 3;
    }

    Chunk lookup(final long ref)
    {
        final int generation = (int)(ref >>> GENERATION_SHIFT);
        final int slot = (int)(ref >>> SLOT_SHIFT) & SLOT_MASK;
        final Chunk[] table = slots;
        if (generation != 0 && slot < table.length)
        {
            final Chunk c = table[slot];
            if (c != null && c.generation == generation)
            {
                return c;
            }
        }
        return null;
    }

    /** The chunk of a reference about to change a count (or copy in bulk): validated by {@link #checkCounted}. */
    private Chunk checkedChunk(final long ref)
    {
        final Chunk c = lookup(ref);
        checkCounted(ref, c);
        return c;
    }

    /**
     * {@link #checkHeader} for the calls that change a count (release, retain, a handle or reader taking one): the
     * slice must also end below the chunk's allocated end. Past the last slice put in a chunk lies memory no live
     * slice wrote (what a given-back local slice left, a freed chunk's bytes, the allocator's own words), where a
     * forged reference could find a header-shaped word and take a count it names, then one of the chunk's own
     * references. A genuine slice always ends at or below the end: it moves back only over a local slice allocated
     * after it (or to 0 on a reset, which needs every slice released), and the caller's count was published after
     * its slice was allocated, so this plain read of the allocating thread's cursor sees at least that slice's end.
     * The single-element accessors keep the capacity bound, one field compare cheaper in their loops: a forged
     * reference can read there (the documented limit), never change a count.
     */
    int checkCounted(final long ref, final Chunk c)
    {
        final int length = checkHeader(ref, c);
        if (dataOf(ref) + (long)length * stride > c.memory.offset)
        {
            throw new StaleHandleException("slice reference 0x" + Long.toHexString(ref) +
                " does not point at a slice of its chunk");
        }
        // The generation again, after the header: lookup() checked it before, and a reset in place between the two
        // (this caller preempted there) wrote a new slice's header where a released slice's was, so a reference
        // released before the call passed as that new slice's and took or dropped its count (its holder then found
        // it released, and the chunk could be reset under it). The reset changes the generation before it writes any
        // header (a store-store fence in beginElsewhere); this load-load fence keeps the reload after the header's
        // load. Only here, for the calls that change a count: the single-element reads keep their loops free of it
        // (a stale reference racing a reset can read the replacing slice's bytes: slices.md, a documented limit).
        VarHandle.loadLoadFence();
        if (c.generation != generationOf(ref))
        {
            throw notFound(ref);
        }
        return length;
    }

    /**
     * Validates a reference against its chunk (which may be null: not found) and returns its slice's length. The
     * header's two ints are read in one load.
     */
    int checkHeader(final long ref, final Chunk c)
    {
        final int data = dataOf(ref);
        if (c == null || data < HEADER || data > c.memory.capacity)
        {
            throw notFound(ref);
        }
        final ChunkMemory m = c.memory;
        final long header = Memory.getLong(m.address + data - HEADER);
        final int length = LITTLE_ENDIAN ? (int)header : (int)(header >>> 32);
        final int references = LITTLE_ENDIAN ? (int)(header >>> 32) : (int)header;
        if (references <= 0)
        {
            throw new StaleHandleException("slice reference 0x" + Long.toHexString(ref) + " is released");
        }
        if (length <= 0 || data + (long)length * stride > m.capacity)
        {
            // not a slice header: a forged reference, or one whose bytes now lie inside another slice's data
            throw new StaleHandleException("slice reference 0x" + Long.toHexString(ref) +
                " does not point at a slice of its chunk");
        }
        return length;
    }

    /**
     * Why {@link #checkHeader} found no slice: the empty slice's reference is valid and has no element, so an index into
     * it is out of bounds, as for the empty handle and a reader bound to it (only the single-element reads get here with
     * it: every other caller answers {@link #EMPTY_REF} first); any other reference is stale. Out of line, so that the
     * checks of a valid read stay as small as they were.
     */
    private static RuntimeException notFound(final long ref)
    {
        if (ref == EMPTY_REF)
        {
            return new IndexOutOfBoundsException("the empty slice (EMPTY_REF) has no element to read");
        }
        return new StaleHandleException("slice reference 0x" + Long.toHexString(ref) +
            " is stale: its chunk was freed or reused, or it is not from this allocator");
    }

    /** Validates a reference, an index into it and the accessor's layout; returns the address of its data. */
    private long checkedAddress(final long ref, final int index, final ElementLayout expected)
    {
        final Chunk c = lookup(ref);
        final int length = checkHeader(ref, c);
        if (index < 0 || index >= length)
        {
            throw new IndexOutOfBoundsException("index " + index + " out of bounds for slice reference 0x" +
                Long.toHexString(ref) + " of length " + length);
        }
        if (layout != expected)
        {
            throw new IllegalStateException("cannot read " + expected + " elements from a " + layout + " slice");
        }
        return c.memory.address + dataOf(ref);
    }

    /**
     * Adds one holder to the slice whose data starts at {@code data} in {@code chunk}. Any thread. Raw atomics on the
     * header's address (no buffer bounds checks, no field reloads after them): the caller holds a count, so the chunk
     * is allocated and the address inside it.
     */
    static void retainSlice(final Chunk chunk, final int data)
    {
        final long at = chunk.memory.address + data - Integer.BYTES;
        int count;
        do
        {
            count = Memory.getIntVolatile(at);
            if (count <= 0)
            {
                throw new StaleHandleException("slice is already released: cannot share it");
            }
            if (count == Integer.MAX_VALUE)
            {
                throw new IllegalStateException("slice has too many references");
            }
        }
        while (!Memory.compareAndSetInt(at, count, count + 1));
    }

    /**
     * Drops one holder of a slice; the last holder drops the slice's chunk reference. Any thread. Raw atomics on
     * the header's address: the caller holds a count, so the chunk is allocated and the address inside it.
     */
    static void releaseSlice(final Chunk chunk, final int data, final long bytes)
    {
        final ChunkMemory m = chunk.memory;
        final long at = m.address + data - Integer.BYTES;
        while (true)
        {
            final int count = Memory.getIntVolatile(at);
            if (count <= 0)
            {
                throw new StaleHandleException("slice is already released: double release");
            }
            // A CAS even for the last holder: two racing releases of one ref must not both succeed.
            if (Memory.compareAndSetInt(at, count, count - 1))
            {
                if (count == 1)
                {
                    break;
                }
                return;
            }
        }
        try
        {
            m.counters.sliceReleased(bytes);
        }
        finally
        {
            chunk.releaseReference(); // the slice's count is gone: its chunk reference must go with it, whatever
        }
    }

    /**
     * Builder of a {@link SliceAllocator}.
     */
    public static final class Builder
    {
        private final ElementLayout layout;
        private int chunkCapacity;
        private int chunkBytes;
        private boolean strict = true;

        private Builder(final ElementLayout layout)
        {
            if (layout == null)
            {
                throw new NullPointerException("layout");
            }
            this.layout = layout;
            chunkCapacity(Math.max(1, DEFAULT_CHUNK_BYTES / layout.stride()));
        }

        /**
         * @param elements elements per default chunk (the seed's {@code N}); a chunk also holds one slice header.
         * @return this builder.
         * @throws IllegalArgumentException naming the value if it is not positive or the chunk would exceed
         *                                  {@link Region#MAX_SIZE}.
         */
        public Builder chunkCapacity(final int elements)
        {
            if (elements <= 0)
            {
                throw new IllegalArgumentException("chunk capacity must be at least 1 element: " + elements);
            }
            final long bytes = (long)elements * layout.stride() + Math.max(HEADER, layout.alignment());
            Region.checkSize(bytes, Region.MAX_SIZE, "chunk of " + elements + " elements");
            this.chunkCapacity = elements;
            this.chunkBytes = (int)bytes;
            return this;
        }

        /**
         * @param strict whether every allocation checks it runs on the allocating thread (default {@code true}; one
         *               thread comparison per call).
         * @return this builder.
         */
        public Builder strict(final boolean strict)
        {
            this.strict = strict;
            return this;
        }

        /**
         * @return a new allocator with its first chunk allocated.
         * @throws IllegalStateException if the JVM lacks the flag Lake needs.
         * @throws OutOfMemoryError      if the operating system refuses the memory.
         */
        public SliceAllocator build()
        {
            return new SliceAllocator(this);
        }
    }
}
