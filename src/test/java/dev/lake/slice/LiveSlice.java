package dev.lake.slice;

/**
 * The model walks' record of one slice they hold: how it was allocated, the id its contents derive from, its
 * length, and the one live form of it (a bound reader, a shared handle or a primitive reference), which
 * {@link #release} gives back.
 */
final class LiveSlice
{
    final int kind; // 0 local, 1 handle, 2 ref, 3 ref read through a bound reader
    final long id;
    final int length;
    SliceReader reader;
    SharedSlice handle;
    long ref;

    LiveSlice(final int kind, final long id, final int length)
    {
        this.kind = kind;
        this.id = id;
        this.length = length;
    }

    /** Releases the slice through the form it is held in: the reader if bound, else the handle, else the reference. */
    void release(final SliceAllocator alloc)
    {
        if (reader != null)
        {
            reader.close();
        }
        else if (handle != null)
        {
            handle.release();
        }
        else
        {
            alloc.release(ref);
        }
    }
}
