// hello.cpp: hello.c in C++17 — the same program, with the scope closed by a destructor.
// The C headers work unchanged from C++ (MT_DIMS included: see tensor.h).
#include <minitorch/minitorch.h>

#include <cstdio>

// Frees every tensor made while it lives (mt_scope_begin / mt_scope_end).
class tensor_scope {
public:
    tensor_scope() : scope_(mt_scope_begin()) {}
    ~tensor_scope() { mt_scope_end(scope_); }
    tensor_scope(const tensor_scope &) = delete;
    tensor_scope &operator=(const tensor_scope &) = delete;

private:
    mt_scope scope_;
};

int main()
{
    tensor_scope scope;

    const float x_data[] = {1, 2, 3, 4, 5, 6};
    mt_tensor *x = mt_from_data(MT_DIMS(2, 3), x_data);
    mt_tensor *w = mt_rand_uniform(MT_DIMS(3, 2), -0.5f, 0.5f, 42);
    mt_set_requires_grad(w, true);

    mt_tensor *y = mt_sigmoid(mt_matmul(x, w)); // (2, 2)
    mt_tensor *loss = mt_mean_all(y);
    if (!loss || mt_backward(loss) != MT_OK) {
        std::fprintf(stderr, "hello: %s\n", mt_last_error());
        return 1;
    }
    std::printf("backend: %s\n", mt_backend_name(mt_get_backend()));
    std::printf("y =\n");
    mt_print(y);
    std::printf("loss = %.6f\n", static_cast<double>(mt_item(loss)));
    std::printf("d loss / d w =\n");
    mt_print(mt_grad(w));
    return 0;
}
