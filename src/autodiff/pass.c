#include "autodiff/pass.h"

#include <stdint.h>

#include "runtime/alloc.h"
#include "runtime/error.h"

static _Thread_local mti_pass *current_pass;

mti_pass *mti_pass_current(void) { return current_pass; }
void mti_pass_set_current(mti_pass *pass) { current_pass = pass; }

static size_t hash(const mt_tensor *t, size_t capacity)
{
    uint64_t x = (uint64_t)(uintptr_t)t;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x & (capacity - 1);
}

/* Position of `t` in the map: its entry, or the empty entry where it would go. */
static size_t probe(const mti_pass *pass, const mt_tensor *t)
{
    size_t i = hash(t, pass->map_capacity);
    while (pass->keys[i] && pass->keys[i] != t) i = (i + 1) & (pass->map_capacity - 1);
    return i;
}

static bool map_grow(mti_pass *pass)
{
    size_t capacity = pass->map_capacity ? pass->map_capacity * 2 : 64;
    mt_tensor **keys = mti_calloc(capacity, sizeof *keys);
    size_t *values = mti_malloc(capacity * sizeof *values);
    if (!keys || !values) {
        mti_free(keys);
        mti_free(values);
        return false;
    }
    mti_pass bigger = {.keys = keys, .values = values, .map_capacity = capacity};
    for (size_t i = 0; i < pass->map_capacity; i++) {
        if (!pass->keys[i]) continue;
        size_t at = probe(&bigger, pass->keys[i]);
        keys[at] = pass->keys[i];
        values[at] = pass->values[i];
    }
    mti_free(pass->keys);
    mti_free(pass->values);
    pass->keys = keys;
    pass->values = values;
    pass->map_capacity = capacity;
    return true;
}

/* Marks `t` visited; false when it already was. *failed on allocation failure. */
static bool visit(mti_pass *pass, mt_tensor *t, bool *failed)
{
    if (2 * (pass->map_count + 1) > pass->map_capacity && !map_grow(pass)) {
        *failed = true;
        return false;
    }
    size_t at = probe(pass, t);
    if (pass->keys[at]) return false;
    pass->keys[at] = t;
    pass->values[at] = SIZE_MAX; /* post-order index, set when its inputs are done */
    pass->map_count++;
    return true;
}

static bool push_order(mti_pass *pass, mt_tensor *t)
{
    if (pass->count == pass->capacity) {
        size_t capacity = pass->capacity ? 2 * pass->capacity : 64;
        mt_tensor **bigger = mti_realloc(pass->order, capacity * sizeof *bigger);
        if (!bigger) return false;
        pass->order = bigger;
        pass->capacity = capacity;
    }
    pass->values[probe(pass, t)] = pass->count;
    pass->order[pass->count++] = t;
    return true;
}

mt_status mti_pass_build(const char *fn, mti_pass *pass, mt_tensor *root)
{
    typedef struct frame {
        mt_tensor *t;
        int next;
    } frame;
    *pass = (mti_pass){0};
    size_t stack_capacity = 64, depth = 0;
    frame *stack = mti_malloc(stack_capacity * sizeof *stack);
    bool failed = !stack;
    if (!failed) {
        visit(pass, root, &failed);
        stack[depth++] = (frame){root, 0};
    }
    while (!failed && depth > 0) {
        frame *top = &stack[depth - 1];
        const mti_node *node = top->t->node;
        if (node && top->next < node->input_count) {
            mt_tensor *child = node->inputs[top->next++];
            if (!child || !child->requires_grad || !visit(pass, child, &failed)) continue;
            if (depth == stack_capacity) {
                frame *bigger = mti_realloc(stack, 2 * stack_capacity * sizeof *stack);
                if (!bigger) {
                    failed = true;
                    break;
                }
                stack = bigger;
                stack_capacity *= 2;
            }
            stack[depth++] = (frame){child, 0};
            continue;
        }
        failed = !push_order(pass, top->t); /* post-order: after all its inputs */
        depth--;
    }
    mti_free(stack);
    if (!failed) pass->grads = mti_calloc(pass->count ? pass->count : 1, sizeof *pass->grads);
    if (failed || !pass->grads) {
        mti_pass_free(pass);
        return mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate the graph traversal");
    }
    for (size_t i = 0; i < pass->count / 2; i++) { /* reverse post-order = topological order */
        mt_tensor *swap = pass->order[i];
        pass->order[i] = pass->order[pass->count - 1 - i];
        pass->order[pass->count - 1 - i] = swap;
    }
    return MT_OK;
}

mt_tensor **mti_pass_slot(const mti_pass *pass, const mt_tensor *t)
{
    if (!pass || !t || pass->map_capacity == 0) return NULL;
    size_t at = probe(pass, t);
    if (!pass->keys[at] || pass->values[at] == SIZE_MAX) return NULL;
    return &pass->grads[pass->count - 1 - pass->values[at]];
}

void mti_pass_free(mti_pass *pass)
{
    if (pass->grads)
        for (size_t i = 0; i < pass->count; i++) mti_unhold(pass->grads[i]);
    mti_free(pass->grads);
    mti_free(pass->order);
    mti_free(pass->keys);
    mti_free(pass->values);
    *pass = (mti_pass){0};
}
