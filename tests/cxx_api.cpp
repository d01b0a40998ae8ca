// The public headers from C++17: MT_DIMS with int, size_t and int64_t sizes gives the right
// ndim and shape, and a small forward/backward computes what a hand calculation says.
// Exits 1 with a message on the first mismatch.
#include <minitorch/minitorch.h>

#include <cstddef>
#include <cstdio>

namespace {

int failures = 0;

void expect(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "cxx_api: FAIL: %s (%s)\n", what, mt_last_error());
        ++failures;
    }
}

bool has_shape(const mt_tensor *t, int ndim, const int64_t *shape)
{
    if (mt_ndim(t) != ndim) return false;
    for (int d = 0; d < ndim; ++d)
        if (mt_shape(t)[d] != shape[d]) return false;
    return true;
}

// Closes the scope when it goes out of C++ scope.
struct scope_guard {
    mt_scope scope = mt_scope_begin();
    scope_guard() = default;
    scope_guard(const scope_guard &) = delete;
    scope_guard &operator=(const scope_guard &) = delete;
    ~scope_guard() { mt_scope_end(scope); }
};

} // namespace

int main()
{
    scope_guard guard;

    const std::size_t rows = 2;
    const int cols = 3;
    const int64_t depth = 4;
    const int64_t expected[] = {2, 3, 4};
    expect(has_shape(mt_zeros(MT_DIMS(rows, cols, depth)), 3, expected), "MT_DIMS(size_t, int, int64_t)");
    expect(has_shape(mt_ones(MT_DIMS(2, 3)), 2, expected), "MT_DIMS(2, 3)");
    const int64_t one[] = {1};
    expect(has_shape(mt_full(MT_DIMS(1), 5.0f), 1, one), "MT_DIMS(1)");

    // loss = sum(x @ w) with x = [[1, 2], [3, 4]] and w = [[1], [1]]: 1+2+3+4 = 10;
    // d loss / d w = column sums of x = [4, 6] (small integers: exact in float).
    const float x_data[] = {1, 2, 3, 4};
    const float w_data[] = {1, 1};
    mt_tensor *x = mt_from_data(MT_DIMS(2, 2), x_data);
    mt_tensor *w = mt_from_data(MT_DIMS(2, 1), w_data);
    expect(mt_set_requires_grad(w, true) == MT_OK, "mt_set_requires_grad");
    mt_tensor *loss = mt_sum_all(mt_matmul(x, w));
    expect(loss && mt_backward(loss) == MT_OK, "mt_backward");
    expect(mt_item(loss) == 10.0f, "loss == 10");
    float grad[2] = {0, 0};
    expect(mt_copy_to(mt_grad(w), grad, 2) == MT_OK, "mt_copy_to(grad)");
    expect(grad[0] == 4.0f && grad[1] == 6.0f, "grad == [4, 6]");

    // errors reach C++ callers the same way
    expect(mt_matmul(x, x) != nullptr, "(2,2) @ (2,2)");
    expect(mt_matmul(w, w) == nullptr && mt_last_status() == MT_ERR_SHAPE, "(2,1) @ (2,1) fails");
    mt_clear_error();

    if (failures == 0) std::printf("cxx_api: the headers work from C++17 (%s)\n", mt_version_string());
    return failures == 0 ? 0 : 1;
}
