/* Calls the grad_f that `bpcli code "(w+x*y)*z" --lang c` writes, at the lecture's point (docs/code.md). */
#include <stdio.h>

double grad_f(double w, double x, double y, double z, double grad[]);

int main(void)
{
    double grad[4];
    double f = grad_f(5, 3, 2, 4, grad);
    printf("f = %g, df/dw = %g, df/dx = %g, df/dy = %g, df/dz = %g\n", f, grad[0], grad[1], grad[2], grad[3]);
    return 0;
}
