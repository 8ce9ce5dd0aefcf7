/* host/ops/table.c: the two columns of the op table. */
#include "table.h"

#define CLMP__OP_ROWS(prefix)                                                                     \
  {                                                                                               \
    .fill = prefix##fill, .cast = prefix##cast, .axpby = prefix##axpby,                           \
    .act_forward = prefix##act_forward, .act_backward = prefix##act_backward,                     \
    .bias_add = prefix##bias_add, .bias_grad = prefix##bias_grad,                                 \
    .softmax_xent = prefix##softmax_xent, .softmax_xent_backward = prefix##softmax_xent_backward, \
    .argmax = prefix##argmax, .correct_count = prefix##correct_count,                             \
    .nonfinite_check = prefix##nonfinite_check, .sum_squares = prefix##sum_squares,               \
    .gemm = prefix##gemm, .gather_rows = prefix##gather_rows, .amp_check = prefix##amp_check,     \
    .amp_step = prefix##amp_step, .amp_update = prefix##amp_update, .add = prefix##add,           \
    .dropout = prefix##dropout, .conv2d = prefix##conv2d,                                         \
    .conv2d_backward_data = prefix##conv2d_backward_data,                                         \
    .conv2d_backward_filter = prefix##conv2d_backward_filter, .max_pool2d = prefix##max_pool2d,   \
    .max_pool2d_backward = prefix##max_pool2d_backward, .avg_pool2d = prefix##avg_pool2d,         \
    .avg_pool2d_backward = prefix##avg_pool2d_backward,                                           \
    .global_avg_pool = prefix##global_avg_pool,                                                   \
    .global_avg_pool_backward = prefix##global_avg_pool_backward,                                 \
    .batch_norm_train = prefix##batch_norm_train, .batch_norm_eval = prefix##batch_norm_eval,     \
    .batch_norm_backward = prefix##batch_norm_backward,                                           \
  }

const clmp__ops clmp__ops_cl = CLMP__OP_ROWS(clmp__cl_);
const clmp__ops clmp__ops_ref = CLMP__OP_ROWS(clmp__ref_);
