package dev.lake.slice;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Free slots of the primitive tier's chunk table: a lock-free stack that any thread may push onto (when a
 * pinned chunk is freed) and only the allocating thread pops from. With a single popper a node cannot leave
 * and come back between a pop's read and its CAS, so the stack has no ABA problem. Holds no chunk.
 */
final class SlotPool
{
    private static final VarHandle HEAD;

    static
    {
        try
        {
            HEAD = MethodHandles.lookup().findVarHandle(SlotPool.class, "head", Node.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    @SuppressWarnings("unused") // through HEAD
    private volatile Node head;

    /**
     * Links the stack's compare-and-set (null to null on the empty stack: no change) while the allocator is built: the
     * first call of a call site in the JVM links it, which allocates on the heap, and on a full heap the first
     * {@link #push} (a freed pinned chunk giving its table slot back, after its region was freed) threw
     * {@link OutOfMemoryError} out of the release that freed it, its work done (a retry is refused as stale), and the
     * table slot was lost.
     */
    SlotPool()
    {
        HEAD.compareAndSet(this, (Node)null, (Node)null);
    }

    /** Any thread. */
    void push(final Node node)
    {
        Node current;
        do
        {
            current = head;
            node.next = current;
        }
        while (!HEAD.compareAndSet(this, current, node));
    }

    /** Allocating thread only. */
    Node pop()
    {
        Node current;
        do
        {
            current = head;
            if (current == null)
            {
                return null;
            }
        }
        while (!HEAD.compareAndSet(this, current, current.next));
        current.next = null;
        return current;
    }

    /** One slot of the table and the last generation it handed out. */
    static final class Node
    {
        final int slot;
        int generation;
        Node next;

        Node(final int slot)
        {
            this.slot = slot;
        }
    }
}
